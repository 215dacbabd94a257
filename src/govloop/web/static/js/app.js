/* govloop: shared page behaviour — toasts for failed requests, clocks, helpers. */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) return {};
    try { return JSON.parse(el.textContent || "{}"); } catch (e) { return {}; }
  }

  var i18n = readJSON("i18n");
  var body = document.body;
  var timeZone = (body && body.dataset.timezone) || "Asia/Shanghai";
  var locale = body && body.dataset.locale === "en" ? "en-GB" : "zh-CN";

  function toast(message, kind, timeout) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var el = document.createElement("div");
    el.className = "toast toast-" + (kind || "error");
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    var text = document.createElement("span");
    text.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", i18n.close || "Close");
    close.textContent = "×";
    close.addEventListener("click", function () { el.remove(); });
    el.appendChild(text);
    el.appendChild(close);
    box.appendChild(el);
    while (box.children.length > 4) box.firstChild.remove();
    window.setTimeout(function () { el.remove(); }, timeout || 7000);
  }

  /* The server's own words for a failed request: JSON `message`, or the error fragment. */
  function errorMessage(xhr) {
    if (!xhr) return i18n.request_failed;
    var type = xhr.getResponseHeader("content-type") || "";
    try {
      if (type.indexOf("json") >= 0) return JSON.parse(xhr.responseText).message || i18n.request_failed;
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var el = doc.querySelector("[data-error-message]");
      if (el) return el.getAttribute("data-error-message");
    } catch (e) { /* fall through */ }
    return i18n.request_failed;
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var d = evt.detail;
    if (!d.xhr || d.xhr.status < 400) return;
    // Forms that show their own errors (the kiosk slip) swap the error fragment in place.
    var host = d.requestConfig && d.requestConfig.elt && d.requestConfig.elt.closest("[data-swap-errors]");
    if (host) {
      var target = document.querySelector(host.getAttribute("data-swap-errors"));
      if (target) {
        d.shouldSwap = true;
        d.isError = false;
        d.target = target;
      }
    }
  });
  document.addEventListener("htmx:responseError", function (evt) {
    toast(errorMessage(evt.detail.xhr), "error");
  });
  document.addEventListener("htmx:sendError", function () {
    toast(i18n.network_error, "error");
  });

  /* Clocks always show the hall's time zone, whatever the device is set to. */
  var timeFmt = new Intl.DateTimeFormat(locale, { timeZone: timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var dateFmt = new Intl.DateTimeFormat(locale, { timeZone: timeZone, year: "numeric", month: "long", day: "numeric", weekday: "long" });
  function tick() {
    var now = new Date();
    document.querySelectorAll("[data-clock=time]").forEach(function (el) { el.textContent = timeFmt.format(now); });
    document.querySelectorAll("[data-clock=date]").forEach(function (el) { el.textContent = dateFmt.format(now); });
  }
  tick();
  window.setInterval(tick, 1000);

  function throttle(fn, wait) {
    var last = 0, timer = null;
    return function () {
      var now = Date.now();
      var remaining = wait - (now - last);
      if (remaining <= 0) {
        last = now;
        fn();
      } else if (!timer) {
        timer = window.setTimeout(function () {
          timer = null;
          last = Date.now();
          fn();
        }, remaining);
      }
    };
  }

  function format(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (m, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : m;
    });
  }

  /* <select data-autosubmit> submits its form on change (no inline handlers: the CSP forbids them). */
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });

  /* <a data-history-back> goes back when there is a page to go back to (the CSP forbids
     javascript: links); otherwise its href, the home page, is followed. */
  document.addEventListener("click", function (evt) {
    var link = evt.target && evt.target.closest && evt.target.closest("a[data-history-back]");
    if (link && window.history.length > 1) {
      evt.preventDefault();
      window.history.back();
    }
  });

  window.govloop = {
    toast: toast,
    errorMessage: errorMessage,
    throttle: throttle,
    format: format,
    readJSON: readJSON,
    i18n: i18n,
    timeZone: timeZone,
    locale: locale,
  };
})();
