/* govloop display board: live calls from the hall's event stream, optional voice. */
(function () {
  "use strict";
  var G = window.govloop;
  var t = G.readJSON("display-i18n");
  var data = document.getElementById("page-data");
  var hallCode = data && data.dataset.hallCode;
  var currentEl = document.querySelector("[data-current-call]");
  var recentEl = document.querySelector("[data-recent-calls]");
  var waitingEl = document.querySelector("[data-waiting-items]");
  var totalEl = document.querySelector("[data-waiting-total]");
  var windowsEl = document.querySelector("[data-windows]");
  var soundBtn = document.querySelector("[data-sound-toggle]");
  var pageEl = document.querySelector("[data-waiting-page]");
  var soundOn = false;
  // seconds each page of the waiting list stays up: ?rotate=N on the board's URL (3–60)
  var rotate = parseInt(new URLSearchParams(window.location.search).get("rotate"), 10);
  var PAGE_SECONDS = rotate >= 3 && rotate <= 60 ? rotate : 8;
  var page = 0;

  // Rows that fit below the table head in a card, the rest hidden; false when none overflow.
  function fitRows(body, first) {
    var rows = Array.prototype.slice.call(body.children);
    rows.forEach(function (r) { r.hidden = false; });
    if (!rows.length) return { rows: rows, perPage: 1 };
    var card = body.closest(".display-card");
    var bottom = card.getBoundingClientRect().bottom - parseFloat(getComputedStyle(card).paddingBottom);
    var top = rows[0].getBoundingClientRect().top;
    var rowHeight = (rows[rows.length - 1].getBoundingClientRect().bottom - top) / rows.length || 1;
    var perPage = Math.max(1, Math.floor((bottom - top) / rowHeight));
    rows.forEach(function (r, i) { r.hidden = i < first || i >= first + perPage; });
    return { rows: rows, perPage: perPage };
  }

  // The waiting list, largest queues first, pages through what does not fit (one page each
  // PAGE_SECONDS, "2/3" beside the title); recent calls keep the newest that fit.
  function paginate() {
    if (recentEl) fitRows(recentEl, 0);
    if (!waitingEl) return;
    var fit = fitRows(waitingEl, 0);
    var pages = Math.max(1, Math.ceil(fit.rows.length / fit.perPage));
    page = page % pages;
    fitRows(waitingEl, page * fit.perPage);
    if (pageEl) {
      pageEl.hidden = pages < 2;
      pageEl.textContent = (page + 1) + "/" + pages;
    }
  }
  setInterval(function () { page += 1; paginate(); }, PAGE_SECONDS * 1000);
  window.addEventListener("resize", paginate);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function callText(code, windowNo) {
    return G.format(t.call_text, { code: code, window: windowNo });
  }

  function render(s) {
    if (!s) return;
    var calls = s.recent_calls || [];
    if (currentEl) currentEl.textContent = calls.length ? callText(calls[0].code, calls[0].window) : t.idle_call;
    if (recentEl) {
      recentEl.replaceChildren();
      if (!calls.length) {
        var row = el("tr", "empty-row");
        var td = el("td", null, t.no_calls);
        td.colSpan = 3;
        row.appendChild(td);
        recentEl.appendChild(row);
      }
      calls.forEach(function (c) {
        var tr = el("tr");
        tr.appendChild(el("td", "code", c.code));
        tr.appendChild(el("td", null, G.format(t.window_n, { n: c.window })));
        tr.appendChild(el("td", null, String(c.at || "").slice(11, 16)));
        recentEl.appendChild(tr);
      });
    }
    if (waitingEl) {
      waitingEl.replaceChildren();
      (s.waiting || []).forEach(function (w) {
        var tr = el("tr");
        var name = el("td");
        name.appendChild(el("span", "prefix", w.prefix));
        name.appendChild(document.createTextNode(w.item_name));
        tr.appendChild(name);
        tr.appendChild(el("td", "num", w.waiting));
        waitingEl.appendChild(tr);
      });
    }
    if (totalEl) totalEl.textContent = s.waiting_total;
    paginate();
    if (windowsEl) {
      // The number each window is serving: its latest call (calls come newest first).
      var serving = {};
      calls.forEach(function (c) { if (!(c.window in serving)) serving[c.window] = c.code; });
      windowsEl.replaceChildren();
      (s.windows || []).forEach(function (w) {
        var tile = el("div", "window-tile state-" + w.state);
        tile.appendChild(el("div", "window-no", w.number));
        tile.appendChild(el("div", "window-state", (t.states || {})[w.state] || w.state));
        if (w.state === "serving" && serving[w.number]) tile.appendChild(el("div", "window-code", serving[w.number]));
        windowsEl.appendChild(tile);
      });
    }
  }

  function flash() {
    if (!currentEl) return;
    var box = currentEl.closest(".display-call") || currentEl;
    box.classList.remove("flash");
    void box.offsetWidth; // restart the animation
    box.classList.add("flash");
  }

  var DIGITS = "零一二三四五六七八九";
  function spoken(code, windowNo) {
    if (document.documentElement.lang !== "zh-CN") return callText(code, windowNo);
    // Say ticket digits one by one (A023 → A零二三), as halls announce them.
    var c = String(code).replace(/\d/g, function (d) { return DIGITS[+d]; });
    return "请 " + c + " 号，到 " + windowNo + " 号窗口办理";
  }

  function speak(code, windowNo) {
    if (!soundOn || !("speechSynthesis" in window) || !window.SpeechSynthesisUtterance) return;
    try {
      var u = new SpeechSynthesisUtterance(spoken(code, windowNo));
      u.lang = document.documentElement.lang === "zh-CN" ? "zh-CN" : "en-GB";
      u.rate = 0.9;
      window.speechSynthesis.speak(u);
    } catch (e) { /* no voice: the board still shows the call */ }
  }

  if (soundBtn) {
    if (!("speechSynthesis" in window)) soundBtn.hidden = true;
    soundBtn.addEventListener("click", function () {
      soundOn = !soundOn;
      soundBtn.setAttribute("aria-pressed", soundOn ? "true" : "false");
      soundBtn.textContent = soundOn ? t.sound_on : t.sound_off;
    });
  }

  paginate();
  if (hallCode && window.govloopLive) {
    window.govloopLive.connect(hallCode, {
      snapshot: render,
      update: function (m) {
        render(m.snapshot);
        var calls = (m.events || []).filter(function (e) {
          return e.kind === "ticket.called" || e.kind === "ticket.recalled";
        });
        if (calls.length) {
          flash();
          calls.forEach(function (c) { speak(c.code, c.window); });
        }
      },
    });
  }
})();
