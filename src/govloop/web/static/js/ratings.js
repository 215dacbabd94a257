/* govloop ratings: charts of ratings per level and of SERVQUAL gap scores (ECharts). */
(function () {
  "use strict";
  var G = window.govloop;
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var LEVEL_COLORS = { "5": "#15803d", "4": "#4d9a2a", "3": "#b7791f", "2": "#d9480f", "1": "#b91c1c" };
  var charts = [];

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    return c;
  }

  function drawLevels() {
    var d = G.readJSON("levels-data");
    var c = d.levels && chart("chart-levels");
    if (!c) return;
    c.setOption({
      textStyle: { fontFamily: FONT },
      grid: { left: 8, right: 32, top: 12, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: d.levels.map(function (x) { return d.labels[String(x[0])]; }) },
      series: [{
        type: "bar", name: d.name, barMaxWidth: 28, label: { show: true, position: "right" },
        data: d.levels.map(function (x) { return { value: x[1], itemStyle: { color: LEVEL_COLORS[String(x[0])] } }; }),
      }],
    });
  }

  function drawGaps() {
    var d = G.readJSON("gaps-data");
    if (!d.dimensions || !d.dimensions.length) return;
    var names = d.dimensions.map(function (k) { return d.labels[k] || k; });
    var round = function (v) { return Math.round(v * 100) / 100; };
    var bar = chart("chart-gaps");
    if (bar) {
      bar.setOption({
        textStyle: { fontFamily: FONT },
        grid: { left: 8, right: 24, top: 28, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "category", data: names },
        yAxis: { type: "value", name: d.names.gap },
        series: [{
          type: "bar", name: d.names.gap, barMaxWidth: 44, label: { show: true, position: "top", formatter: function (p) { return (p.value > 0 ? "+" : "") + p.value.toFixed(2); } },
          data: d.dimensions.map(function (k) { var v = round(d.values[k].gap); return { value: v, itemStyle: { color: v < 0 ? "#b91c1c" : "#15803d" } }; }),
        }],
      });
    }
    var radar = chart("chart-radar");
    if (radar) {
      radar.setOption({
        textStyle: { fontFamily: FONT },
        color: ["#1553b6", "#d97706"],
        legend: { top: 0 },
        tooltip: {},
        radar: { indicator: names.map(function (n) { return { name: n, min: 1, max: 7 }; }), radius: "68%", center: ["50%", "57%"], axisName: { color: "#374151", fontSize: 13 } },
        series: [{
          type: "radar",
          data: [
            { name: d.names.expectation, value: d.dimensions.map(function (k) { return round(d.values[k].expectation); }) },
            { name: d.names.perception, value: d.dimensions.map(function (k) { return round(d.values[k].perception); }), areaStyle: { opacity: 0.15 } },
          ],
        }],
      });
    }
  }

  function draw() { drawLevels(); drawGaps(); }
  window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
