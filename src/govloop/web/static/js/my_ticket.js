/* govloop "my ticket": refresh the panel when the hall changes, at once for our own ticket. */
(function () {
  "use strict";
  var panel = document.querySelector("[data-live-ticket]");
  if (!panel || !window.govloopLive || !window.htmx) return;
  var code = panel.dataset.ticketCode;
  var FINAL = ["finished", "no_show", "cancelled", "closed", "carried_over"];
  var refresh = window.govloop.throttle(function () { window.htmx.trigger(panel, "refresh"); }, 3000);
  var source = window.govloopLive.connect(panel.dataset.hallCode, {
    update: function (m) {
      var mine = (m.events || []).some(function (e) { return e.code === code; });
      if (mine) window.htmx.trigger(panel, "refresh");
      else refresh();
    },
  });
  panel.addEventListener("htmx:afterSwap", function () {
    var status = panel.querySelector("[data-status]");
    if (status && FINAL.indexOf(status.dataset.status) >= 0 && source) source.close();
    if (status && status.dataset.status === "called" && navigator.vibrate) navigator.vibrate([300, 120, 300]);
  });
})();
