// Cart page: changing a quantity or a tick, removing a line or entering a coupon updates
// the cart and the header count in place. Without JavaScript the same forms post and
// redirect back.
(function () {
  "use strict";
  var root = document.querySelector("[data-cart]");
  if (!root) return;
  var timer = null;

  function setCount(count) {
    document.querySelectorAll("[data-cart-count]").forEach(function (el) {
      el.textContent = count;
    });
  }

  function send(form, submitter) {
    var action = (submitter && submitter.getAttribute("formaction")) || form.action;
    var body = new FormData(form);
    return fetch(action, {
      method: "POST",
      body: body,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      root.innerHTML = data.html;
      setCount(data.count);
      enhance();
    }).catch(function () {
      form.submit();  // the network failed: fall back to the plain post
    });
  }

  function enhance() {
    root.querySelectorAll("[data-update-button]").forEach(function (b) { b.hidden = true; });
    var cartForm = root.querySelector("#cart-form");
    if (cartForm) {
      cartForm.addEventListener("change", function (event) {
        if (event.target.type === "checkbox") send(cartForm);
      });
      cartForm.addEventListener("input", function (event) {
        if (event.target.type !== "number") return;
        clearTimeout(timer);
        timer = setTimeout(function () { send(cartForm); }, 500);
      });
    }
    root.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        send(form, event.submitter);
      });
    });
  }

  enhance();
})();
