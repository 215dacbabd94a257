/* govloop rating pad: show the next finished visit at once (live feed, with polling as the
   fallback), count the thank-you screen down, and reload when idle for a long time. */
(function () {
  "use strict";
  var data = document.getElementById("pad-data");
  var hallCode = data && data.dataset.hallCode;

  function body() { return document.getElementById("pad-body"); }

  function refresh() {
    var el = body();
    if (el && el.dataset.padState !== "thanks" && window.htmx) window.htmx.trigger(el, "refresh");
  }

  if (hallCode && window.govloopLive) {
    var soon = window.govloop.throttle(refresh, 1000);
    window.govloopLive.connect(hallCode, {
      update: function (m) {
        var finished = (m.events || []).some(function (e) { return e.kind === "ticket.finished"; });
        if (finished) soon();
      },
    });
  }

  // A pad stays on for days: reload it when nobody has touched it for a while, so its
  // session and CSRF token never go stale. Never while a citizen is rating.
  var lastTouch = Date.now();
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () { lastTouch = Date.now(); }, true);
  });
  window.setInterval(function () {
    var el = body();
    if (el && el.dataset.padState === "idle" && Date.now() - lastTouch > 20 * 60 * 1000) window.location.reload();
  }, 60 * 1000);
})();
