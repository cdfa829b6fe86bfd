// Charts of the analytics pages: each <canvas class="js-chart" data-source="ID"
// data-series="clicks,leads" data-kind="line|bar"> is drawn from the JSON the page put
// in <script type="application/json" id="ID"> (json_script: CSP allows no inline code).
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777"];

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var names = (canvas.getAttribute("data-series") || "").split(",");
    var labels = (data.names || {});
    var datasets = [];
    names.forEach(function (name, i) {
      if (!data[name]) return;
      datasets.push({
        label: labels[name] || name,
        data: data[name],
        borderColor: COLORS[i % COLORS.length],
        backgroundColor: COLORS[i % COLORS.length],
        borderWidth: 2,
        pointRadius: data.labels.length > 45 ? 0 : 2,
        tension: 0.2
      });
    });
    if (!datasets.length) return;
    var chart = new window.Chart(canvas, {
      type: canvas.getAttribute("data-kind") || "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true } },
        plugins: { legend: { position: "bottom" } }
      }
    });
    var points = 0;
    datasets.forEach(function (d) { points += d.data.length; });
    canvas.setAttribute("data-rendered", String(points));
    canvas.chart = chart;
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("canvas.js-chart"), draw);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
