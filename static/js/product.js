// Product page: the price and stock shown follow the chosen variant, its pictures come
// first, and a thumbnail shows its picture in place. Without JavaScript each variant lists
// its own price and stock, the page's ?variant= puts its pictures first, and thumbnails
// open the picture.
(function () {
  "use strict";
  var thumbnails = document.querySelector(".product__thumbnails");
  function ids(text) {
    return (text || "").split(" ").filter(Boolean);
  }
  // A picture is of a variant when it names options and the variant has them all, as
  // catalog.models.ProductImage.shows() decides on the server.
  function shows(item, values) {
    var named = ids(item.dataset.shows);
    return named.length > 0 && named.every(function (id) { return values.indexOf(id) >= 0; });
  }
  function putPicturesFirst(radio) {
    if (!thumbnails) return;
    var values = ids(radio.dataset.values);
    var items = Array.prototype.slice.call(thumbnails.children);
    items.sort(function (a, b) {
      return (shows(b, values) - shows(a, values)) ||
        (a.dataset.position - b.dataset.position) || (a.dataset.pk - b.dataset.pk);
    });
    items.forEach(function (item) { thumbnails.appendChild(item); });
    if (shows(items[0], values)) items[0].querySelector(".js-thumbnail").click();
  }
  var price = document.querySelector("#chosen-price .price__now");
  var was = document.querySelector("#chosen-price .price__was");
  var wasAmount = document.querySelector("#chosen-price .price__was-amount");
  var stock = document.getElementById("chosen-stock");
  document.querySelectorAll("input[name=variant][type=radio]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) return;
      if (price) price.textContent = radio.dataset.price;
      if (was) {
        wasAmount.textContent = radio.dataset.was;
        was.hidden = !radio.dataset.was;
      }
      var label = document.getElementById("variant-" + radio.value + "-out");
      if (stock && label) {
        stock.textContent = label.textContent;
        // The level, not the count: the cached page changes only when a label does.
        stock.className = "stock stock--" + radio.dataset.stockLevel;
      }
      putPicturesFirst(radio);
      var url = new URL(window.location.href);
      url.searchParams.set("variant", radio.value);
      window.history.replaceState(null, "", url);
    });
  });
  var main = document.getElementById("main-image");
  document.querySelectorAll(".js-thumbnail").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!main) return;
      event.preventDefault();
      main.src = link.href;
      main.alt = link.dataset.alt;
      main.removeAttribute("width");
      main.removeAttribute("height");
      document.querySelectorAll(".js-thumbnail").forEach(function (other) {
        other.removeAttribute("aria-current");
      });
      link.setAttribute("aria-current", "true");
    });
  });
})();
