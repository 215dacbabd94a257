/* govloop hot topics: orders per day behind each alert, with its usual level (ECharts). */
(function () {
  "use strict";
  var G = window.govloop;
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var charts = [];

  function draw(el) {
    if (!window.echarts || el.getAttribute("data-drawn")) return;
    var d;
    try { d = JSON.parse(el.getAttribute("data-topic-chart") || "{}"); } catch (e) { return; }
    if (!d.days || !d.days.length) return;
    el.setAttribute("data-drawn", "1");
    var day = el.getAttribute("data-day");
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    var series = [{
      type: "bar", name: d.names.orders, barMaxWidth: 14,
      data: d.counts.map(function (v, i) {
        return { value: v, itemStyle: { color: d.days[i] === day ? "#b3261e" : "#9db8e6" } };
      }),
    }];
    if (d.baseline != null) {
      series.push({
        type: "line", name: d.names.baseline, symbol: "none",
        lineStyle: { type: "dashed", color: "#475569" },
        data: d.days.map(function () { return Math.round(d.baseline * 10) / 10; }),
      });
    }
    c.setOption({
      textStyle: { fontFamily: FONT },
      grid: { left: 8, right: 12, top: 12, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: d.days, axisLabel: { fontSize: 10 } },
      yAxis: { type: "value", minInterval: 1 },
      series: series,
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-topic-chart]").forEach(draw);
  }

  // An acknowledged alert is swapped in again: draw its (new, empty) chart element.
  document.addEventListener("htmx:afterSettle", function () { drawAll(); });
  window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  if (document.readyState === "complete") drawAll();
  else window.addEventListener("load", drawAll);
})();
