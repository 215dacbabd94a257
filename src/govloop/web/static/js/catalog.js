/* govloop data platform: dataset quality bars and the knowledge graph (ECharts). */
(function () {
  "use strict";
  var FONT = '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var COLORS = ["#1d4f91", "#b3261e", "#8a5a00", "#1f7a3d", "#6b21a8", "#0e7490", "#475569", "#c2410c", "#be185d"];
  var charts = [];

  function json(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent || "null"); } catch (e) { return null; }
  }

  function drawQuality(el) {
    var d;
    try { d = JSON.parse(el.getAttribute("data-quality-chart") || "{}"); } catch (e) { return; }
    if (!d.names || !d.names.length) return;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    charts.push(c);
    c.setOption({
      textStyle: { fontFamily: FONT },
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: d.names, inverse: true },
      series: [{
        type: "bar", name: d.label, barMaxWidth: 16,
        label: { show: true, position: "right", formatter: function (p) { return p.value == null ? "" : p.value + "%"; } },
        data: d.scores.map(function (v) {
          return { value: v, itemStyle: { color: v == null ? "#cbd5e1" : v >= 95 ? "#1f7a3d" : v >= 80 ? "#d97706" : "#b3261e" } };
        }),
      }],
    });
  }

  function drawGraph(el) {
    var d = json("graph-data"), labels = json("graph-labels");
    if (!d || !labels || !d.nodes.length) return;
    var types = Object.keys(labels.types);
    var categories = types.map(function (t, i) { return { name: labels.types[t], itemStyle: { color: COLORS[i % COLORS.length] } }; });
    var nodes = d.nodes.map(function (n) {
      var center = n.id === d.center;
      return {
        id: n.id, name: n.label, category: types.indexOf(n.type), value: n.degree,
        symbolSize: center ? 38 : Math.min(12 + Math.sqrt(n.degree) * 3, 30),
        label: { show: center || d.nodes.length <= 60 || n.degree > 4 },
        itemStyle: center ? { borderColor: "#111827", borderWidth: 3 } : undefined,
        tooltip: { formatter: labels.types[n.type] + "：" + n.label + "<br>" + n.id +
          Object.keys(n.detail || {}).map(function (k) { return "<br>" + k + "：" + n.detail[k]; }).join("") },
        entity: n.id,
      };
    });
    var links = d.edges.map(function (e) {
      return {
        source: e.source, target: e.target, value: e.count,
        label: { show: d.mode === "path" || d.edges.length <= 12, formatter: e.label + (e.count > 1 ? " ×" + e.count : ""), fontSize: 10 },
        tooltip: { formatter: e.label + (e.count > 1 ? " ×" + e.count : "") },
      };
    });
    var c = window.echarts.init(el);
    charts.push(c);
    c.setOption({
      textStyle: { fontFamily: FONT },
      tooltip: {},
      legend: [{ data: categories.map(function (x) { return x.name; }), top: 4 }],
      series: [{
        type: "graph", layout: "force", roam: true, draggable: true,
        categories: categories, data: nodes, links: links,
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 6,
        force: { repulsion: 420, edgeLength: [80, 180], gravity: 0.05 },
        label: { position: "right", fontSize: 11 },
        lineStyle: { color: "source", curveness: 0.1, opacity: 0.7 },
        emphasis: { focus: "adjacency" },
      }],
    });
    // Double-click a node to walk the graph from it.
    c.on("dblclick", function (p) {
      if (p.dataType === "node" && p.data.entity) {
        window.location.href = "/graph?entity=" + encodeURIComponent(p.data.entity);
      }
    });
  }

  function drawAll() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-quality-chart]").forEach(drawQuality);
    var g = document.getElementById("graph-chart");
    if (g) drawGraph(g);
  }

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  if (document.readyState === "complete") drawAll();
  else window.addEventListener("load", drawAll);
})();
