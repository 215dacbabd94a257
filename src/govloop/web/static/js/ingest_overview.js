(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("ingest-daily-chart");
    var src = document.getElementById("ingest-daily");
    if (!el || !src || !window.echarts) return;
    var d = JSON.parse(src.textContent);
    if (!d.days.length) { el.style.display = "none"; return; }
    var c = window.echarts.init(el, null, { renderer: "svg" });
    c.setOption({
      color: ["#16a34a", "#dc2626"],
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: d.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { type: "bar", stack: "rows", name: d.names.stored, data: d.stored, barMaxWidth: 28 },
        { type: "bar", stack: "rows", name: d.names.rejected, data: d.rejected, barMaxWidth: 28 }
      ]
    });
    window.addEventListener("resize", function () { c.resize(); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
