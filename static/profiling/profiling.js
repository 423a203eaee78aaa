// Edge profiling charts: power against sample index per variant (the deck's figure) and memory over time.
(function () {
  "use strict";
  const el = document.getElementById("edge-chart-data");
  if (!el || typeof Plotly === "undefined") return;
  const data = JSON.parse(el.textContent);
  const layoutBase = { margin: { l: 60, r: 20, t: 10, b: 90 }, legend: { orientation: "h", y: -0.3 }, hovermode: "closest" };
  const config = { responsive: true, displaylogo: false };

  const power = data.variants.filter((v) => v.power.length > 0).map((v) => ({
    name: v.label,
    type: "scatter",
    mode: "lines",
    x: v.power.map((_p, i) => i),
    y: v.power.map((p) => p[1]),
    text: v.power.map((p) => `${p[2]} · t=${p[0].toFixed(2)} s`),
    hovertemplate: "%{y:.0f} mW<br>%{text}<extra>%{fullData.name}</extra>",
  }));
  const missing = document.getElementById("power-missing");
  const powerDiv = document.getElementById("power-chart");
  if (power.length) {
    Plotly.newPlot(powerDiv, power, { ...layoutBase, xaxis: { title: { text: "sample" } }, yaxis: { title: { text: "power (mW)" } } }, config);
  } else {
    powerDiv.hidden = true;
    missing.hidden = false;
    missing.textContent = "Power " + (data.powerNote || "not measured") + ".";
  }

  const memory = data.variants.filter((v) => v.memory.length > 0).map((v) => ({
    name: v.label,
    type: "scatter",
    mode: "lines",
    x: v.memory.map((m) => m[0]),
    y: v.memory.map((m) => m[1] / 1048576),
    text: v.memory.map((m) => `${m[4]} · device ${m[3]}% used`),
    hovertemplate: "%{y:.1f} MiB<br>%{text}<extra>%{fullData.name}</extra>",
  }));
  Plotly.newPlot(document.getElementById("memory-chart"), memory,
    { ...layoutBase, xaxis: { title: { text: "seconds since the run started" } }, yaxis: { title: { text: "process memory (MiB)" } } }, config);
})();
