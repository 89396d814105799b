// Group buys: the group page's "time left" counts down each minute (the server renders the
// same text; without JavaScript it is right when the page loads).
(function () {
  "use strict";
  var clock = document.querySelector(".group-countdown[data-seconds]");
  if (!clock) return;
  var end = Date.now() + parseInt(clock.getAttribute("data-seconds"), 10) * 1000;
  var template = clock.textContent;
  var numbers = template.match(/\d+/g);
  if (!numbers || numbers.length < 2) return;
  function tick() {
    var left = Math.max(0, Math.floor((end - Date.now()) / 60000));
    var hours = String(Math.floor(left / 60));
    var minutes = String(left % 60);
    var i = 0;
    clock.textContent = template.replace(/\d+/g, function () {
      i += 1;
      return i === 1 ? hours : minutes;
    });
    if (left > 0) window.setTimeout(tick, 30000);
  }
  tick();
})();
