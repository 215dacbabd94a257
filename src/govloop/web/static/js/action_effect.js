/* Before/after of each measured indicator: daily values, the expectation without the
   action (after the start) and the band of the expectation plus the effect's interval. */
(function () {
  "use strict";
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  function draw() {
    var G = window.govloop;
    if (!window.echarts || !G) return;
    var d = G.readJSON("effect-data");
    var charts = [];
    (d.charts || []).forEach(function (c, i) {
      var el = document.getElementById("effect-chart-" + (i + 1));
      if (!el) return;
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      charts.push(chart);
      var low = c.low;
      var width = c.high.map(function (h, k) { return h == null || low[k] == null ? null : h - low[k]; });
      chart.setOption({
        textStyle: { fontFamily: FONT },
        color: ["#1553b6", "#6b7280", "#16a34a", "#16a34a"],
        grid: { left: 8, right: 16, top: 44, bottom: 8, containLabel: true },
        legend: { top: 0, data: [d.names.observed, d.names.expected, { name: d.names.band, icon: "rect" }], textStyle: { fontSize: 11 } },
        tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "–" : (Math.round(v * 100) / 100) + (c.unit === "%" ? "%" : (c.unit ? " " + c.unit : "")); } },
        xAxis: { type: "category", data: c.days, axisLabel: { fontSize: 10, formatter: function (v) { return v.slice(5); } } },
        yAxis: { type: "value", scale: true, axisLabel: { formatter: function (v) { return v + (c.unit === "%" ? "%" : ""); } } },
        series: [
          { name: d.names.observed, type: "line", data: c.observed, symbolSize: 4, connectNulls: false,
            markLine: { symbol: "none", label: { formatter: d.names.start }, lineStyle: { type: "dashed", color: "#9ca3af" }, data: [{ xAxis: c.start }] } },
          { name: d.names.expected, type: "line", data: c.expected, symbol: "none", lineStyle: { type: "dashed" } },
          { name: "_low", type: "line", data: low, stack: "band", symbol: "none", itemStyle: { color: "transparent" }, lineStyle: { opacity: 0 }, tooltip: { show: false } },
          { name: d.names.band, type: "line", data: width, stack: "band", symbol: "none", itemStyle: { color: "rgba(22, 163, 74, 0.35)" }, lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(22, 163, 74, 0.18)" }, tooltip: { show: false } },
        ],
      });
    });
    window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  }
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
