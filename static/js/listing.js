// Listings: apply a filter or sort as soon as it changes. Without JavaScript the
// "Apply filters" and "Sort" buttons do the same.
(function () {
  "use strict";
  var form = document.getElementById("listing-form");
  if (!form) return;
  document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  function submit() {
    var page = form.querySelector("input[name=page]");
    if (page) page.remove();
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }
  form.addEventListener("change", function (event) {
    if (event.target.type === "checkbox") submit();
  });
  ["sort-select", "per-page-select"].forEach(function (id) {
    var select = document.getElementById(id);
    if (select) select.addEventListener("change", submit);
  });
})();
