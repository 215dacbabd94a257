/* govloop manager console: ECharts for the queue and arrivals, refreshed from the live feed. */
(function () {
  "use strict";
  var G = window.govloop;
  var t = G.readJSON("manage-i18n");
  var live = document.getElementById("manage-live");
  if (!live) return;
  var charts = {};
  var PALETTE = ["#1553b6", "#16803c", "#d97706", "#7c3aed", "#0e7490"];
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var existing = window.echarts.getInstanceByDom(el);
    if (existing) return existing;
    charts[id] = window.echarts.init(el, null, { renderer: "svg" });
    return charts[id];
  }

  function draw() {
    var data = G.readJSON("manage-data");
    // The items people wait for, longest queue first, one readable bar each (a hall with 30
    // items shows its 12 longest queues; the chart grows with the bars instead of
    // squeezing labels).
    var waiting = (data.waiting || []).filter(function (x) { return x.waiting > 0; }).slice(0, 12);
    var w = chart("chart-waiting");
    if (w) {
      w.getDom().style.height = Math.max(160, waiting.length * 30 + 40) + "px";
      w.resize();
      w.setOption({
        color: PALETTE,
        textStyle: { fontFamily: FONT },
        grid: { left: 8, right: 32, top: 12, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        title: waiting.length ? undefined : { text: t.nobody_waiting, left: "center", top: "middle", textStyle: { fontSize: 14, color: "#6b7280", fontWeight: "normal" } },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: {
          type: "category",
          inverse: true,
          data: waiting.map(function (x) { return x.prefix + " " + x.item_name; }),
          axisLabel: { interval: 0, width: 180, overflow: "truncate" },
        },
        series: [{ type: "bar", name: t.waiting, data: waiting.map(function (x) { return x.waiting; }), barMaxWidth: 22, label: { show: true, position: "right" } }],
      }, true);
    }
    var arrivals = data.arrivals || { slots: [], series: {} };
    var a = chart("chart-arrivals");
    if (a) {
      var names = Object.keys(arrivals.series || {});
      a.setOption({
        color: PALETTE,
        textStyle: { fontFamily: FONT },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        legend: { top: 0 },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "category", data: arrivals.slots },
        yAxis: { type: "value", minInterval: 1, name: t.arrivals },
        series: names.map(function (n) {
          return { type: "bar", stack: "arrivals", name: (t.channels || {})[n] || n, data: arrivals.series[n], barMaxWidth: 36 };
        }),
      }, true);
    }
  }

  // Keep the manager's carry-over ticks across live refreshes.
  var ticked = [];
  live.addEventListener("htmx:beforeSwap", function () {
    ticked = Array.prototype.map.call(live.querySelectorAll("[data-carry]:checked"), function (c) { return c.value; });
  });
  live.addEventListener("htmx:afterSwap", function () {
    ticked.forEach(function (code) {
      var box = live.querySelector('[data-carry="' + CSS.escape(code) + '"]');
      if (box) box.checked = true;
    });
    Object.keys(charts).forEach(function (id) {
      if (!document.getElementById(id) || charts[id].getDom() !== document.getElementById(id)) {
        charts[id].dispose();
        delete charts[id];
      }
    });
    draw();
  });
  window.addEventListener("resize", G.throttle(function () {
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
  }, 200));

  var refresh = G.throttle(function () { window.htmx.trigger(live, "refresh"); }, 2000);
  document.body.addEventListener("htmx:afterRequest", function (e) {
    var path = e.detail.requestConfig && e.detail.requestConfig.path;
    if (path && /close-day|sweep-appointments/.test(path)) refresh();
  });
  if (window.govloopLive) window.govloopLive.connect(live.dataset.hallCode, { update: refresh });
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
