// Product page: the price and stock shown follow the chosen variant, and a thumbnail
// shows its picture in place. Without JavaScript each variant lists its own price and
// stock, and thumbnails open the picture.
(function () {
  "use strict";
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
