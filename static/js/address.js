// Address forms (checkout, address book): choosing a country switches the fields that
// depend on it in place (the state or province list, the postcode's name and shape, the
// city), keeping what was typed. It posts the form as the "Update" button does without
// JavaScript, and takes the new rows from the page the server answers. At checkout, the
// new address's fields show only while "A new address" is the one chosen.
(function () {
  "use strict";
  document.querySelectorAll("[data-address-form]").forEach(function (form) {
    var country = form.querySelector("[data-address-country]");
    if (!country || !window.fetch || !window.DOMParser) return;
    // Removed, not hidden: a hidden submit button would still catch the Enter key.
    form.querySelectorAll("[data-address-update]").forEach(function (button) {
      button.remove();
    });
    // With saved addresses to choose from, the new address's fields show only for "new".
    var saved = form.querySelectorAll('input[type=radio][name="address"]');
    var fieldset = form.querySelector(".checkout-new-address");
    function followChoice() {
      var chosen = form.querySelector('input[name="address"]:checked');
      fieldset.hidden = Boolean(chosen) && chosen.value !== "new";
    }
    if (saved.length && fieldset) {
      saved.forEach(function (radio) { radio.addEventListener("change", followChoice); });
      followChoice();
    }
    var pending = null;
    var shown = country.value;  // the country the fields on the page are for
    country.addEventListener("change", function () {
      if (country.value === shown) {  // back to the fields already shown: nothing to fetch
        pending = null;
        return;
      }
      var chosen = country.value;
      var body = new FormData(form);
      body.append("update_country", "1");
      var asked = pending = fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin",
      }).then(function (response) {
        return response.text();
      }).then(function (html) {
        if (asked !== pending) return;  // a later choice wins
        shown = chosen;
        var page = new DOMParser().parseFromString(html, "text/html");
        ["city", "region", "postcode"].forEach(function (name) {
          var now = form.querySelector('[data-address-row="' + name + '"]');
          var next = page.querySelector('[data-address-row="' + name + '"]');
          if (!now || !next) return;
          next = document.importNode(next, true);
          // What was typed while the answer came keeps its place (same kind of field).
          var typed = now.querySelector("input, select");
          var fresh = next.querySelector("input, select");
          var same = typed && fresh && typed.type === fresh.type && typed.type !== "hidden";
          if (same) fresh.value = typed.value;
          var focused = typed && typed === document.activeElement;
          now.replaceWith(next);
          if (focused && same) fresh.focus();  // the shopper typing on keeps typing here
        });
      }).catch(function () {});
    });
  });
})();
