/* govloop insight: demand heatmaps, period comparison and anomaly drill-down (ECharts). */
(function () {
  "use strict";
  var G = window.govloop;
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var BLUE = "#1553b6";
  var HEAT = ["#f5f8ff", "#c9dbf7", "#7ea6e3", "#3f73c9", "#1553b6", "#0b2f6e"];
  var DIVERGING = ["#1d4ed8", "#93c5fd", "#f8fafc", "#fca5a5", "#b91c1c"];
  var charts = [];

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    return c;
  }

  /* +1.2 / −0.3 / 0, as the tables write them. */
  function signed(v) {
    if (v == null) return "";
    if (Math.abs(v) < 0.05) return "0";
    return (v > 0 ? "+" : "") + (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));
  }

  function maxOf(rows) {
    var m = 0;
    rows.forEach(function (r) { (r || []).forEach(function (v) { if (v != null && Math.abs(v) > m) m = Math.abs(v); }); });
    return m;
  }

  /* Cells [slot, row, value] of a weekday × slot grid; a missing row (null) stays blank. */
  function cells(values) {
    var out = [];
    values.forEach(function (row, y) { (row || []).forEach(function (v, x) { out.push([x, y, v]); }); });
    return out;
  }

  function heatmap(el, opts) {
    var c = chart(el);
    if (!c) return;
    var names = opts.weekdays.map(function (w) { return opts.weekdayNames[w] || w; });
    c.setOption({
      textStyle: { fontFamily: FONT },
      grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
      tooltip: {
        position: "top",
        formatter: function (p) {
          var v = p.value[2];
          var text = v == null ? "–" : (opts.signed && v > 0 ? "+" : "") + v.toFixed(1);
          return names[p.value[1]] + " " + opts.slots[p.value[0]] + "<br>" + opts.name + "：<b>" + text + "</b>";
        },
      },
      xAxis: { type: "category", data: opts.slots, splitArea: { show: true }, axisLabel: { interval: 0, rotate: opts.slots.length > 14 ? 45 : 0, fontSize: 11 } },
      yAxis: { type: "category", data: names, inverse: true, splitArea: { show: true } },
      visualMap: {
        min: opts.signed ? -opts.max : 0,
        max: opts.max || 1,
        calculable: true,
        orient: "horizontal",
        left: "center",
        bottom: 0,
        itemHeight: 160,
        precision: 1,
        inRange: { color: opts.signed ? DIVERGING : HEAT },
      },
      series: [{
        type: "heatmap",
        name: opts.name,
        data: cells(opts.values),
        label: { show: opts.slots.length <= 20, fontSize: 10, formatter: function (p) { var v = p.value[2]; return v ? (opts.signed && v > 0 ? "+" : "") + (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1)) : ""; } },
        itemStyle: { borderColor: "#fff", borderWidth: 1 },
        emphasis: { itemStyle: { borderColor: "#111827", borderWidth: 1 } },
      }],
    });
  }

  function drawDemand(d) {
    var h = d.heatmap;
    if (!h || !h.values || !h.values.length) return;
    heatmap("chart-heatmap", {
      slots: h.slots, weekdays: h.weekdays, values: h.values, weekdayNames: d.weekday_names,
      name: d.names.mean_arrivals, max: maxOf(h.values),
    });
    var s = chart("chart-slots");
    if (s && d.slot_shares) {
      s.setOption({
        textStyle: { fontFamily: FONT },
        color: [BLUE],
        grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return (v * 100).toFixed(1) + "%"; } },
        xAxis: { type: "category", data: h.slots, axisLabel: { fontSize: 11 } },
        yAxis: { type: "value", axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
        series: [{ type: "bar", name: d.names.share, data: d.slot_shares, barMaxWidth: 26 }],
      });
    }
    var line = chart("chart-daily");
    if (line && d.daily && d.daily.days.length) {
      var mean = d.daily.arrivals.reduce(function (a, b) { return a + b; }, 0) / d.daily.arrivals.length;
      line.setOption({
        textStyle: { fontFamily: FONT },
        color: [BLUE],
        grid: { left: 8, right: 24, top: 24, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: d.daily.days, boundaryGap: false },
        yAxis: { type: "value", minInterval: 1, name: d.names.arrivals },
        series: [{
          type: "line", name: d.names.arrivals, data: d.daily.arrivals, smooth: false, symbolSize: 5,
          areaStyle: { opacity: 0.08 },
          markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#9ca3af" }, label: { formatter: mean.toFixed(0) }, data: [{ yAxis: mean }] },
        }],
      });
    }
  }

  function drawCompare(d) {
    if (!d.slots || !d.slots.length) return;
    var max = Math.max(maxOf(d.a), maxOf(d.b));
    [["chart-a", d.a], ["chart-b", d.b]].forEach(function (p) {
      heatmap(p[0], {
        slots: d.slots, weekdays: d.weekdays, values: p[1], weekdayNames: d.weekday_names,
        name: d.names.mean_arrivals, max: max,
      });
    });
    heatmap("chart-diff", {
      slots: d.slots, weekdays: d.weekdays, values: d.difference, weekdayNames: d.weekday_names,
      name: d.names.difference, max: maxOf(d.difference), signed: true,
    });
  }

  /* Contribution of each member to the deviation; those pushing the anomaly's way in red. */
  function drawDrill(d) {
    Object.keys(d.dimensions || {}).forEach(function (kind) {
      var rows = d.dimensions[kind];
      var c = rows && rows.length ? chart("chart-drill-" + kind) : null;
      if (!c) return;
      c.setOption({
        textStyle: { fontFamily: FONT },
        grid: { left: 8, right: 40, top: 8, bottom: 24, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "value", name: d.axis, nameLocation: "middle", nameGap: 24, nameTextStyle: { color: "#6b7280" } },
        yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.member; }), axisLabel: { width: 150, overflow: "truncate" } },
        series: [{
          type: "bar", name: d.axis, barMaxWidth: 18,
          label: { show: true, position: "right", formatter: function (p) { return signed(p.value); } },
          data: rows.map(function (r) { return { value: r.value, itemStyle: { color: r.along ? "#b91c1c" : "#9ca3af" } }; }),
        }],
      });
    });
  }

  function draw() {
    var d = G.readJSON("insight-data");
    if (d.heatmap) drawDemand(d);
    else if (d.difference) drawCompare(d);
    else if (d.dimensions) drawDrill(d);
  }

  window.addEventListener("resize", G.throttle(function () { charts.forEach(function (c) { c.resize(); }); }, 200));
  if (document.readyState === "complete") draw();
  else window.addEventListener("load", draw);
})();
