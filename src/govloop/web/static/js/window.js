/* govloop window workbench: keep the panel fresh without disturbing what staff are typing. */
(function () {
  "use strict";
  var G = window.govloop;
  function panel() { return document.getElementById("window-panel"); }
  var first = panel();
  if (!first || !window.govloopLive || !window.htmx) return;

  function busy(p) {
    var active = document.activeElement;
    return !!(p.querySelector("details[open]") || (active && p.contains(active) && /INPUT|SELECT|TEXTAREA/.test(active.tagName)));
  }
  var refresh = G.throttle(function () {
    var p = panel();
    if (p && !busy(p)) window.htmx.trigger(p, "refresh");
  }, 1500);

  window.govloopLive.connect(first.dataset.hallCode, { update: refresh });

  // Keyboard: F2 calls the next ticket when nothing is at the window.
  document.addEventListener("keydown", function (e) {
    if (e.key === "F2") {
      var btn = document.getElementById("call-next");
      if (btn && !btn.disabled) { e.preventDefault(); btn.click(); }
    }
  });
})();
