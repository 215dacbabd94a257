(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("device-uptime-chart");
    var src = document.getElementById("device-uptime");
    if (!el || !src || !window.echarts) return;
    var d = JSON.parse(src.textContent);
    if (!d.days.length) { el.style.display = "none"; return; }
    var c = window.echarts.init(el, null, { renderer: "svg" });
    c.setOption({
      color: ["#2563eb"],
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "–" : v + "%"; } },
      xAxis: { type: "category", data: d.days },
      yAxis: { type: "value", min: function (v) { return Math.max(0, Math.floor(v.min / 10) * 10); }, max: 100 },
      series: [{ type: "bar", name: d.name, data: d.uptime, barMaxWidth: 24 }]
    });
    window.addEventListener("resize", function () { c.resize(); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
