/* govloop: the hall's live feed (server-sent events) with a status dot. */
(function () {
  "use strict";

  /* Subscribe to /api/v1/halls/{code}/stream. Handlers get the snapshot and each update.
     EventSource reconnects by itself; a fresh `snapshot` follows every reconnect. */
  function connect(hallCode, handlers) {
    if (!window.EventSource) return null;
    var dots = document.querySelectorAll("[data-live-status]");
    function status(ok) {
      dots.forEach(function (d) { d.classList.toggle("live-ok", ok); d.classList.toggle("live-down", !ok); });
    }
    var source = new EventSource("/api/v1/halls/" + encodeURIComponent(hallCode) + "/stream");
    source.addEventListener("open", function () { status(true); });
    source.addEventListener("error", function () { status(false); });
    source.addEventListener("snapshot", function (e) {
      status(true);
      if (handlers.snapshot) handlers.snapshot(JSON.parse(e.data));
    });
    source.addEventListener("update", function (e) {
      if (handlers.update) handlers.update(JSON.parse(e.data));
    });
    window.addEventListener("pagehide", function () { source.close(); });
    return source;
  }

  window.govloopLive = { connect: connect };
})();
