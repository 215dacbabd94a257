/* govloop hotline dashboard: orders per day by channel, by category, on-time closing per unit (ECharts). */
(function () {
  "use strict";
  var G = window.govloop;
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var PALETTE = ["#1553b6", "#2f9e6e", "#e0a020", "#7a5cc4", "#d9534f", "#5aa9e6"];
  var charts = [];

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    return c;
  }

  function pct(v) { return v == null ? "–" : (v * 100).toFixed(1) + "%"; }

  function drawDays(d) {
    var c = chart("chart-days");
    if (!c || !d.channels.length) return;
    c.setOption({
      textStyle: { fontFamily: FONT },
      color: PALETTE,
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: d.days },
      yAxis: { type: "value", minInterval: 1, name: d.names.orders },
      series: d.channels.map(function (s) {
        return { type: "bar", stack: "orders", name: s.name, data: s.data, barMaxWidth: 28 };
      }),
    });
  }

  function horizontal(id, rows, name, opts) {
    var c = rows && rows.length ? chart(id) : null;
    if (!c) return;
    c.setOption({
      textStyle: { fontFamily: FONT },
      color: [opts.color || PALETTE[0]],
      grid: { left: 8, right: 56, top: 8, bottom: 24, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: opts.format },
      xAxis: opts.ratio
        ? { type: "value", max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } }
        : { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.name; }), axisLabel: { width: 150, overflow: "truncate" } },
      series: [{
        type: "bar", name: name, barMaxWidth: 18,
        label: { show: true, position: "right", formatter: function (p) { return opts.format ? opts.format(p.value) : p.value; } },
        data: rows.map(function (r) { return r.value; }),
      }],
    });
  }

  function draw() {
    var d = G.readJSON("hotline-dashboard-data");
    if (!d || !d.days) return;
    drawDays(d);
    horizontal("chart-categories", d.categories, d.names.orders, {});
    horizontal("chart-departments", d.departments, d.names.on_time_rate, { ratio: true, format: pct, color: PALETTE[1] });
  }

  window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
