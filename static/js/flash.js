// Flash sales: count down to a sale's start (or end) from the times the server rendered.
// Each [data-flash-countdown] holds the moment (ISO 8601) and data-now the server's clock
// when the page was made, so a visitor whose clock is wrong still sees the right time left.
// At zero the page reloads: the server says whether the sale is on (with its buy button),
// over or sold out. Without JavaScript the page shows the start and end times as text.
(function () {
  "use strict";

  // The product page: while a flash sale of the chosen variant runs, its "Buy now at <flash
  // price>" button (the flash block) replaces the regular Add to cart form and the phone's
  // buy bar; another variant of the product keeps them. product.js writes the chosen variant
  // into the buy form; a change of option is read after it did. Without JavaScript both
  // stay, and Add to cart answers that the item sells through "Buy now".
  var buyForm = document.getElementById("buy-form");
  var flashVariants = Array.prototype.map.call(
    document.querySelectorAll(".flash-sale__buy[data-flash-variant]"),
    function (form) { return form.dataset.flashVariant; }
  );
  if (buyForm && flashVariants.length) {
    var buyBar = document.getElementById("buy-bar");
    var syncBuyForm = function () {
      var inSale = flashVariants.indexOf(buyForm.elements.variant.value) !== -1;
      buyForm.hidden = inSale;
      if (buyBar && inSale) buyBar.hidden = true;
    };
    syncBuyForm();
    document.addEventListener("change", function () {
      window.setTimeout(syncBuyForm, 0);
    });
  }

  var counters = Array.prototype.slice.call(document.querySelectorAll("[data-flash-countdown]"));
  if (!counters.length) return;

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  // Hours:minutes:seconds, hours past 24 included (no word to translate).
  function clock(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    return pad(Math.floor(seconds / 3600)) + ":" + pad(Math.floor((seconds % 3600) / 60)) + ":" + pad(seconds % 60);
  }

  var items = counters.map(function (element) {
    var serverNow = Date.parse(element.dataset.now);
    return {
      element: element,
      clock: element.querySelector(".flash-sale__clock"),
      at: Date.parse(element.dataset.flashCountdown),
      // Server time = this browser's time + offset.
      offset: isNaN(serverNow) ? 0 : serverNow - Date.now(),
    };
  }).filter(function (item) {
    return !isNaN(item.at) && item.clock;
  });

  var reloading = false;

  function tick() {
    items.forEach(function (item) {
      var left = item.at - (Date.now() + item.offset);
      item.clock.textContent = clock(left);
      item.element.hidden = false;
      if (left <= 0 && !reloading) {
        reloading = true;
        // A moment after zero, so the server agrees the sale has started (or ended).
        window.setTimeout(function () {
          window.location.reload();
        }, 300);
      }
    });
  }

  tick();
  window.setInterval(tick, 1000);
})();
