// Listings: apply a filter or sort as soon as it changes (without JavaScript the "Apply"
// buttons do the same), and on phones run the filter drawer as a modal dialog (without
// JavaScript "Filter and sort" links to #filters, which CSS opens with :target).
(function () {
  "use strict";
  var form = document.getElementById("listing-form");
  if (!form) return;
  var drawer = document.getElementById("filters");
  var toggle = document.querySelector(".listing__filter-toggle");
  var closer = drawer.querySelector(".filters__close");
  var show = drawer.querySelector(".filters__show");
  var narrow = window.matchMedia("(max-width: 899px)");
  var path = form.getAttribute("action").split("#")[0];

  document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  if (show && show.dataset.label) show.textContent = show.dataset.label;

  function isOpen() {
    return drawer.classList.contains("is-open");
  }

  function open() {
    drawer.classList.add("is-open");
    drawer.setAttribute("role", "dialog");
    drawer.setAttribute("aria-modal", "true");
    document.body.classList.add("has-drawer");
    if (toggle) toggle.setAttribute("aria-expanded", "true");
    closer.focus();
  }

  function close() {
    drawer.classList.remove("is-open");
    drawer.removeAttribute("role");
    drawer.removeAttribute("aria-modal");
    document.body.classList.remove("has-drawer");
    if (toggle) toggle.setAttribute("aria-expanded", "false");
    if (window.location.hash === "#filters") {
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    if (toggle) toggle.focus();
  }

  // Applying a filter reloads the page: from an open drawer, it reopens on the new counts.
  function submit() {
    var page = form.querySelector("input[name=page]");
    if (page) page.remove();
    form.setAttribute("action", path + (isOpen() ? "#filters" : "#results"));
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }

  form.addEventListener("change", function (event) {
    if (event.target.type === "checkbox" || event.target.id === "drawer-sort") submit();
  });
  form.addEventListener("submit", function (event) {
    // "Show N results" and "Apply filters" land on the results, drawer closed.
    // (Close it here: when nothing changed, the browser only scrolls to #results.)
    if (event.submitter) {
      form.setAttribute("action", path + "#results");
      if (isOpen()) close();
    }
    // A shorter, shareable URL: no empty prices, no default sort.
    form.querySelectorAll("input[type=number], #drawer-sort").forEach(function (field) {
      if (!field.value || field.value === field.dataset.default) field.disabled = true;
    });
  });
  window.addEventListener("pageshow", function () {
    // Back to this page from the bfcache: the fields are usable again.
    form.querySelectorAll("[disabled]").forEach(function (field) { field.disabled = false; });
  });
  document.querySelectorAll(".listing__sort select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    });
  });

  if (toggle) {
    toggle.setAttribute("aria-expanded", "false");
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      open();
    });
  }
  closer.addEventListener("click", function (event) {
    event.preventDefault();
    close();
  });
  drawer.addEventListener("keydown", function (event) {
    if (!isOpen()) return;
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "Tab") {
      // Keep the focus inside the dialog while it is open.
      var focusable = drawer.querySelectorAll("a[href], button, input, select");
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  narrow.addEventListener("change", function () {
    if (!narrow.matches && isOpen()) close();
  });
  if (window.location.hash === "#filters" && narrow.matches) open();
})();
