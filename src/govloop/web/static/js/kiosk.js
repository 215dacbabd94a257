/* govloop kiosk: tabs, on-screen keypad, the slip dialog and live waiting counts. */
(function () {
  "use strict";
  var data = document.getElementById("page-data");
  var hallCode = data && data.dataset.hallCode;
  var modal = document.getElementById("slip-modal");
  var slipBody = document.getElementById("slip-body");
  var countdownEl = modal && modal.querySelector("[data-countdown]");
  var timer = null;
  var SLIP_SECONDS = 45;

  document.querySelectorAll("[data-tab]").forEach(function (tab) {
    tab.addEventListener("click", function () {
      var name = tab.dataset.tab;
      document.querySelectorAll("[data-tab]").forEach(function (t) {
        var on = t === tab;
        t.classList.toggle("active", on);
        t.setAttribute("aria-selected", on ? "true" : "false");
      });
      document.querySelectorAll("[data-panel]").forEach(function (p) { p.hidden = p.dataset.panel !== name; });
      if (name === "checkin") {
        var input = document.getElementById("checkin-code");
        if (input) input.focus();
      }
    });
  });

  document.querySelectorAll("[data-keypad]").forEach(function (pad) {
    var input = document.querySelector(pad.dataset.keypad);
    var max = parseInt(pad.dataset.max || "16", 10);
    pad.addEventListener("click", function (e) {
      var key = e.target.closest("[data-key]");
      if (!key || !input) return;
      var k = key.dataset.key;
      if (k === "back") input.value = input.value.slice(0, -1);
      else if (k === "clear") input.value = "";
      else if (input.value.length < max) input.value += k;
    });
  });

  function closeSlip() {
    if (!modal) return;
    modal.hidden = true;
    slipBody.innerHTML = "";
    if (timer) window.clearInterval(timer);
    timer = null;
    document.querySelectorAll("form[data-opens-slip]").forEach(function (f) { f.reset(); });
    // the next citizen never sees the phone number the last one left
    document.querySelectorAll("[data-turn-notify]").forEach(function (d) { d.open = false; });
  }

  function openSlip() {
    modal.hidden = false;
    var left = SLIP_SECONDS;
    if (timer) window.clearInterval(timer);
    if (countdownEl) countdownEl.textContent = "(" + left + ")";
    timer = window.setInterval(function () {
      left -= 1;
      if (countdownEl) countdownEl.textContent = "(" + left + ")";
      if (left <= 0) closeSlip();
    }, 1000);
  }

  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target !== slipBody) return;
    // a refusal (a check-in that failed) is read, not printed
    var printable = modal && modal.querySelector("[data-print]");
    if (printable) printable.hidden = !!slipBody.querySelector(".alert-error, [data-error-message]");
    openSlip();
  });
  document.querySelectorAll("[data-close-slip]").forEach(function (el) { el.addEventListener("click", closeSlip); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeSlip(); });
  var printBtn = modal && modal.querySelector("[data-print]");
  if (printBtn) printBtn.addEventListener("click", function () { window.print(); });

  function applySnapshot(s) {
    if (!s) return;
    var counts = {};
    (s.waiting || []).forEach(function (w) { counts[w.item_code] = w.waiting; });
    document.querySelectorAll("[data-item-waiting]").forEach(function (el) {
      var code = el.dataset.itemWaiting;
      if (code in counts) el.textContent = counts[code];
    });
    var total = document.querySelector("[data-waiting-total]");
    if (total) total.textContent = s.waiting_total;
    var open = document.querySelector("[data-open-windows]");
    if (open) open.textContent = (s.windows || []).filter(function (w) { return w.state === "idle" || w.state === "serving"; }).length;
  }

  // A kiosk stays open for days: reload it when idle, so its session, CSRF token and
  // catalogue never go stale. Never while a slip is on screen.
  var lastTouch = Date.now();
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () { lastTouch = Date.now(); }, true);
  });
  var IDLE_RELOAD_MS = 20 * 60 * 1000;
  window.setInterval(function () {
    if (modal && modal.hidden && Date.now() - lastTouch > IDLE_RELOAD_MS) window.location.reload();
  }, 60 * 1000);

  if (hallCode && window.govloopLive) {
    window.govloopLive.connect(hallCode, {
      snapshot: applySnapshot,
      update: function (m) { applySnapshot(m.snapshot); },
    });
  }
})();
