/* govloop indicators: overall score bar chart and dimension radar of a scorecard (ECharts). */
(function () {
  "use strict";
  var G = window.govloop;
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var RAG = { green: "#15803d", amber: "#d97706", red: "#b91c1c" };
  var charts = [];

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    return c;
  }

  function draw() {
    var d = G.readJSON("scorecard-data");
    if (!d.rows || !d.rows.length) return;
    var bar = chart("chart-overall");
    if (bar) {
      bar.setOption({
        textStyle: { fontFamily: FONT },
        grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "value", min: 0, max: 100 },
        yAxis: { type: "category", inverse: true, data: d.rows.map(function (r) { return r.label; }) },
        series: [{
          type: "bar", name: d.names.overall, barMaxWidth: 22,
          label: { show: true, position: "right", formatter: function (p) { return p.value == null ? "–" : p.value.toFixed(1); } },
          data: d.rows.map(function (r) { return { value: r.overall, itemStyle: { color: RAG[r.rag] || "#9ca3af" } }; }),
        }],
      });
      bar.on("click", function (p) {
        var row = d.rows[p.dataIndex];
        if (row) window.location.href = row.focus_url;
      });
    }
    var sel = d.selected;
    var radar = chart("chart-radar");
    if (radar && sel) {
      var avg = d.dimensions.map(function (k) {
        var xs = d.rows.map(function (r) { return r.dimensions[k]; }).filter(function (v) { return v != null; });
        return xs.length ? Math.round(xs.reduce(function (a, b) { return a + b; }, 0) / xs.length * 10) / 10 : null;
      });
      radar.setOption({
        textStyle: { fontFamily: FONT },
        color: ["#1553b6", "#9ca3af"],
        legend: { top: 0 },
        tooltip: {},
        radar: { indicator: d.dimensions.map(function (k) { return { name: d.labels[k] || k, min: 0, max: 100 }; }), radius: "66%", center: ["50%", "57%"], axisName: { color: "#374151", fontSize: 13 } },
        series: [{
          type: "radar",
          data: [
            { name: sel.label, value: d.dimensions.map(function (k) { return sel.dimensions[k]; }), areaStyle: { opacity: 0.18 } },
            { name: d.names.average, value: avg, lineStyle: { type: "dashed" } },
          ],
        }],
      });
    }
  }

  window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
