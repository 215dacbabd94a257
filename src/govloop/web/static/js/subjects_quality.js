(function () {
  function draw() {
    var el = document.getElementById("chart-quality");
    if (!el || !window.echarts) return;
    var d = JSON.parse(el.getAttribute("data-chart"));
    var c = window.echarts.init(el, null, { renderer: "svg" });
    c.setOption({
      textStyle: { fontFamily: '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", sans-serif' },
      tooltip: { trigger: "axis" }, legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.runs.map(function (r) { return r.slice(0, 16).replace("T", " "); }) },
      yAxis: { type: "value", name: d.label, min: function (v) { return Math.max(0, Math.floor(v.min - 5)); }, max: 100 },
      series: d.series.map(function (s) { return { type: "line", name: s.name, data: s.data, connectNulls: true }; }),
    });
  }
  if (document.readyState === "complete") draw(); else window.addEventListener("load", draw);
})();
