/* govloop planning: forecast line with its prediction band, and required / usual windows
   of the staffing plan (ECharts). Data comes from <script id="planning-data">. */
(function () {
  "use strict";
  var G = window.govloop;
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var charts = [];

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    return c;
  }

  function slotLabel(iso) {
    // "2026-11-23T09:30" → "11-23 09:30"
    return iso.slice(5, 10) + " " + iso.slice(11, 16);
  }

  function drawForecast(d) {
    var c = chart("chart-forecast");
    if (!c || !d.slots || !d.slots.start.length) return;
    var s = d.slots;
    var band = s.upper.map(function (u, i) { return Math.max(0, u - s.lower[i]); });
    var labels = s.start.map(slotLabel);
    // A mark line at the first slot of each open day, labelled with the date.
    var firsts = [];
    s.start.forEach(function (iso, i) {
      if (i === 0 || iso.slice(0, 10) !== s.start[i - 1].slice(0, 10)) firsts.push(i);
    });
    c.setOption({
      textStyle: { fontFamily: FONT },
      color: ["#1553b6", "#93c5fd"],
      grid: { left: 8, right: 16, top: 36, bottom: 56, containLabel: true },
      legend: { top: 0, data: [d.names.expected, d.names.band] },
      tooltip: {
        trigger: "axis",
        formatter: function (ps) {
          var i = ps[0].dataIndex;
          return labels[i] + "<br>" + d.names.expected + ": " + s.expected[i].toFixed(1) +
            "<br>" + d.names.band + ": " + s.lower[i].toFixed(1) + " – " + s.upper[i].toFixed(1);
        },
      },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      xAxis: {
        type: "category", data: labels, boundaryGap: false,
        axisLabel: {
          interval: function (i) { return firsts.indexOf(i) >= 0; },
          formatter: function (v) { return v.slice(0, 5); },
        },
        axisTick: { interval: function (i) { return firsts.indexOf(i) >= 0; } },
      },
      yAxis: { type: "value", min: 0, name: "" },
      series: [
        { name: "lower", type: "line", data: s.lower, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, tooltip: { show: false } },
        { name: d.names.band, type: "line", data: band, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(147, 197, 253, 0.45)" } },
        { name: d.names.expected, type: "line", data: s.expected, symbol: "none", lineStyle: { width: 2, color: "#1553b6" } },
      ],
    });
  }

  function drawStaffing(d) {
    var c = chart("chart-staffing");
    if (!c || !d.labels || !d.labels.length) return;
    c.setOption({
      textStyle: { fontFamily: FONT },
      color: ["#cbd5e1", "#b91c1c", "#1553b6"],
      grid: { left: 8, right: 8, top: 36, bottom: 56, containLabel: true },
      legend: { top: 0 },
      tooltip: { trigger: "axis" },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      xAxis: { type: "category", data: d.labels },
      yAxis: [
        { type: "value", min: 0, minInterval: 1 },
        { type: "value", min: 0, splitLine: { show: false } },
      ],
      series: [
        { name: d.names.arrivals, type: "bar", yAxisIndex: 1, data: d.arrivals, barMaxWidth: 10 },
        { name: d.names.required, type: "line", step: "middle", symbol: "none", data: d.required, lineStyle: { width: 2 } },
        { name: d.names.scheduled, type: "line", step: "middle", symbol: "none", data: d.scheduled, lineStyle: { width: 2, type: "dashed" } },
      ],
    });
  }

  function draw() {
    var d = G.readJSON("planning-data");
    if (d.kind === "forecast") drawForecast(d);
    else if (d.kind === "staffing") drawStaffing(d);
  }

  window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
