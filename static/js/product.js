// Product page, made quicker: choosing an option shows its variant's price, stock, pictures
// and address (?variant=) in place; the main picture opens large in an on-page dialog; on a
// phone a bar keeps "Add to cart" in reach once the buy box is scrolled past.
// Without JavaScript the option form reloads the page at the chosen variant, the picture
// links open the large picture, and the bar stays hidden.
(function () {
  "use strict";

  function ids(text) {
    return (text || "").split(" ").filter(Boolean);
  }

  // --- Pictures: thumbnails, the chosen variant's pictures first, zoom --------------------
  var thumbnails = document.querySelector(".product__thumbnails");
  var main = document.getElementById("main-image");
  var mainLink = document.getElementById("main-image-link");
  var zoom = document.getElementById("zoom");
  var zoomImage = document.getElementById("zoom-image");

  function showPicture(link) {
    if (!main) return;
    main.src = link.href;
    main.alt = link.dataset.alt;
    main.removeAttribute("width");
    main.removeAttribute("height");
    mainLink.href = link.dataset.full;
    document.querySelectorAll(".js-thumbnail").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    link.setAttribute("aria-current", "true");
  }
  document.querySelectorAll(".js-thumbnail").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      showPicture(link);
      // On a phone the thumbnails are below the buy box: bring the photo into view.
      var box = main && main.getBoundingClientRect();
      if (box && box.bottom < 0) main.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });

  // A picture is of a variant when it names options and the variant has them all, as
  // catalog.models.ProductImage.shows() decides on the server.
  function shows(item, values) {
    var named = ids(item.dataset.shows);
    return named.length > 0 && named.every(function (id) { return values.indexOf(id) >= 0; });
  }
  function putPicturesFirst(values) {
    if (!thumbnails) return;
    var items = Array.prototype.slice.call(thumbnails.children);
    items.sort(function (a, b) {
      return (shows(b, values) - shows(a, values)) ||
        (a.dataset.position - b.dataset.position) || (a.dataset.pk - b.dataset.pk);
    });
    items.forEach(function (item) { thumbnails.appendChild(item); });
    if (shows(items[0], values)) showPicture(items[0].querySelector(".js-thumbnail"));
  }

  if (zoom && mainLink && typeof zoom.showModal === "function") {
    mainLink.addEventListener("click", function (event) {
      event.preventDefault();
      zoomImage.src = mainLink.href;
      zoomImage.alt = main.alt;
      zoom.classList.remove("zoom--in");
      document.getElementById("zoom-toggle").setAttribute("aria-pressed", "false");
      zoom.showModal();
    });
    // A click (or Enter) on the picture shows it twice as large, to scroll around; a click
    // on the backdrop closes, and Escape, as in every dialog.
    var toggle = document.getElementById("zoom-toggle");
    toggle.addEventListener("click", function () {
      toggle.setAttribute("aria-pressed", String(zoom.classList.toggle("zoom--in")));
    });
    zoom.addEventListener("click", function (event) {
      if (event.target === zoom) zoom.close();
    });
  }

  // --- Options -------------------------------------------------------------------------
  var data = document.getElementById("variant-data");
  var optionForm = document.getElementById("options");
  var buyForm = document.getElementById("buy-form");
  var submit = buyForm && buyForm.querySelector(".buy-form__submit");
  var bar = document.getElementById("buy-bar");
  var barButton = bar && bar.querySelector(".buy-bar__button");

  if (data && optionForm && buyForm) {
    var variants = JSON.parse(data.textContent);
    var groups = Array.prototype.slice.call(optionForm.querySelectorAll("fieldset[data-type]"));
    // Value id -> option type id, from the radios.
    var typeOf = {};
    groups.forEach(function (group) {
      group.querySelectorAll("input[type=radio]").forEach(function (radio) {
        typeOf[radio.dataset.value] = group.dataset.type;
      });
    });
    variants.forEach(function (variant) {
      variant.byType = {};
      variant.values.forEach(function (value) {
        variant.byType[typeOf[value]] = String(value);
      });
    });

    var chosenNow = function () {
      var wanted = {};
      groups.forEach(function (group) {
        var radio = group.querySelector("input[type=radio]:checked");
        if (radio) wanted[group.dataset.type] = radio.dataset.value;
      });
      return wanted;
    };

    // The same rule as catalog.selectors.variant_for_options(): each option type in
    // order narrows to the variants with the wanted value (unless none has it); the
    // first in stock of what is left wins.
    var resolve = function (wanted) {
      var candidates = variants;
      groups.forEach(function (group) {
        var type = group.dataset.type;
        if (!(type in wanted)) return;
        var narrowed = candidates.filter(function (v) { return v.byType[type] === wanted[type]; });
        if (narrowed.length) candidates = narrowed;
      });
      return candidates.filter(function (v) { return v.level !== "out"; })[0] || candidates[0];
    };

    // As catalog.selectors.option_groups(): a value is available when a variant with it
    // exists given the values chosen in the groups above; sold out when none is in stock.
    var markStates = function (variant) {
      groups.forEach(function (group, level) {
        var above = groups.slice(0, level).map(function (g) { return g.dataset.type; });
        group.querySelectorAll("input[type=radio]").forEach(function (radio) {
          var matching = variants.filter(function (v) {
            return v.byType[group.dataset.type] === radio.dataset.value &&
              above.every(function (type) { return v.byType[type] === variant.byType[type]; });
          });
          var state = "unavailable";
          if (matching.length) {
            state = matching.some(function (v) { return v.level !== "out"; }) ? "available" : "sold_out";
          }
          radio.checked = variant.byType[group.dataset.type] === radio.dataset.value;
          radio.disabled = state === "unavailable";
          var label = radio.nextElementSibling;
          label.className = "option__label option__label--" + state;
          var note = label.querySelector(".option__state");
          note.textContent = state === "sold_out" ? note.dataset.soldOut :
            state === "unavailable" ? note.dataset.unavailable : "";
          if (radio.checked) group.querySelector(".option-group__chosen").textContent = radio.dataset.name;
        });
      });
    };

    var price = document.querySelector("#chosen-price .price__now");
    var was = document.querySelector("#chosen-price .price__was");
    var wasAmount = document.querySelector("#chosen-price .price__was-amount");
    var stock = document.getElementById("chosen-stock");
    var label = document.getElementById("chosen-label");
    var barPrice = document.getElementById("buy-bar-price");

    var show = function (variant) {
      markStates(variant);
      price.textContent = variant.price;
      wasAmount.textContent = variant.was;
      was.hidden = !variant.was;
      stock.textContent = variant.stock;
      // The level, not the count: the cached page changes only when a label does.
      stock.className = "stock stock--" + variant.level;
      if (label) label.textContent = variant.label;
      if (barPrice) barPrice.textContent = variant.price;
      buyForm.elements.variant.value = variant.id;
      var url = new URL(window.location.href);
      url.search = "?variant=" + variant.id;
      buyForm.elements.next.value = url.pathname + url.search;
      window.history.replaceState(null, "", url);
      var soldOut = variant.level === "out";
      submit.disabled = soldOut || buyForm.getAttribute("action") === "#";
      submit.textContent = soldOut ? submit.dataset.soldOut : submit.dataset.add;
      if (barButton) barButton.textContent = soldOut ? barButton.dataset.choose : barButton.dataset.add;
      putPicturesFirst(variant.values.map(String));
    };

    optionForm.classList.add("variant-form--live");
    optionForm.addEventListener("change", function () {
      var variant = resolve(chosenNow());
      if (variant) show(variant);
    });
    optionForm.addEventListener("submit", function (event) {
      event.preventDefault(); // the Update button is hidden, but Enter still submits
    });
  }

  // --- The bar on phones ------------------------------------------------------------------
  if (bar && submit) {
    var phone = window.matchMedia("(max-width: 899px)");
    var queued = false;
    // Shown once the button has gone up out of view, not while it is still below. A scroll
    // listener, not an IntersectionObserver: a jump from below the button to above it
    // (a link to the reviews) crosses no intersection and would be missed.
    var place = function () {
      queued = false;
      bar.hidden = !(phone.matches && submit.getBoundingClientRect().bottom < 0);
      document.body.classList.toggle("has-buy-bar", !bar.hidden);
    };
    window.addEventListener("scroll", function () {
      if (!queued) {
        queued = true;
        window.requestAnimationFrame(place);
      }
    }, { passive: true });
    phone.addEventListener("change", place);
    barButton.addEventListener("click", function (event) {
      if (!submit.disabled) return; // submits the buy form itself (form="buy-form")
      event.preventDefault();
      var target = optionForm || buyForm;
      target.scrollIntoView({ behavior: "smooth", block: "center" });
      var focus = target.querySelector("input:checked, input:not([disabled])");
      if (focus) focus.focus({ preventScroll: true });
    });
  }
})();
