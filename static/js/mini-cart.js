// Add to cart without leaving the page: a product page's form (class "buy-form") posts with
// fetch and the answer opens the mini cart, a modal <dialog> (what was added, the cart's
// subtotal, "Checkout" and "Keep shopping"); the header's count follows. The page and the
// shopper's choice stay as they were. Escape, "Keep shopping", the close button or a click
// beside the drawer close it, and focus goes back to the button that opened it. Without
// JavaScript (or <dialog>), or if the request fails, the form posts and redirects as before.
(function () {
  "use strict";
  if (!window.fetch || typeof HTMLDialogElement !== "function") return;
  var dialog = null;
  var opener = null;

  function setCount(count) {
    document.querySelectorAll("[data-cart-count]").forEach(function (el) {
      el.textContent = count;
    });
  }

  function drawer() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "mini-cart";
    dialog.setAttribute("aria-labelledby", "mini-cart-title");
    dialog.addEventListener("click", function (event) {
      // A click on the dialog itself is on the backdrop beside the drawer.
      if (event.target === dialog || event.target.closest("[data-mini-cart-close]")) {
        dialog.close();
      }
    });
    dialog.addEventListener("close", function () {
      if (opener) opener.focus();
    });
    document.body.appendChild(dialog);
    return dialog;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList.contains("buy-form")) return;
    event.preventDefault();
    opener = event.submitter || form.querySelector("[type=submit]");
    if (opener) opener.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (type.indexOf("application/json") !== 0) throw new Error(response.status);
      return response.json();
    }).then(function (data) {
      if (opener) opener.removeAttribute("aria-busy");
      var box = drawer();
      box.innerHTML = data.html;
      setCount(data.count);
      if (!box.open) box.showModal();
    }).catch(function () {
      form.submit();  // the plain post: the server redirects back with a message
    });
  });
})();
