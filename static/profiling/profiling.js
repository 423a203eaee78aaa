// Edge profiling charts: power against sample index per variant (the deck's figure) and memory over time.
(function () {
  "use strict";
  const el = document.getElementById("edge-chart-data");
  if (!el || typeof Plotly === "undefined") return;
  const data = JSON.parse(el.textContent);
  const layoutBase = { margin: { l: 60, r: 20, t: 10, b: 90 }, legend: { orientation: "h", y: -0.3 }, hovermode: "closest" };
  const config = { responsive: true, displaylogo: false };
  // The phases as the device names them (edge_worker.contracts.profiling.PHASES), in the page's language.
  const PHASE = { load: pgettext("profiling phase", "load"), build: pgettext("profiling phase", "build"),
    warmup: pgettext("profiling phase", "warm-up"), measure: pgettext("profiling phase", "measure") };
  const phase = (name) => PHASE[name] || name;
  const LOCALE = document.documentElement.lang || "en";
  const decimal = (v, d) => Number(v).toLocaleString(LOCALE, { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: false });

  const power = data.variants.filter((v) => v.power.length > 0).map((v) => ({
    name: v.label,
    type: "scatter",
    mode: "lines",
    x: v.power.map((_p, i) => i),
    y: v.power.map((p) => p[1]),
    text: v.power.map((p) => `${phase(p[2])} · t=${decimal(p[0], 2)} s`),
    hovertemplate: "%{y:.0f} mW<br>%{text}<extra>%{fullData.name}</extra>",
  }));
  const missing = document.getElementById("power-missing");
  const powerDiv = document.getElementById("power-chart");
  if (power.length) {
    Plotly.newPlot(powerDiv, power, { ...layoutBase, xaxis: { title: { text: gettext("sample") } }, yaxis: { title: { text: gettext("power (mW)") } } }, config);
  } else {
    powerDiv.hidden = true;
    missing.hidden = false;
    missing.textContent = data.powerNote ? interpolate(gettext("Power: %s."), [data.powerNote]) : gettext("Power not measured.");
  }

  const memory = data.variants.filter((v) => v.memory.length > 0).map((v) => ({
    name: v.label,
    type: "scatter",
    mode: "lines",
    x: v.memory.map((m) => m[0]),
    y: v.memory.map((m) => m[1] / 1048576),
    text: v.memory.map((m) => interpolate(gettext("%(phase)s · device memory %(used)s used"), { phase: phase(m[4]), used: `${decimal(m[3], 1)} %` }, true)),
    hovertemplate: "%{y:.1f} MiB<br>%{text}<extra>%{fullData.name}</extra>",
  }));
  Plotly.newPlot(document.getElementById("memory-chart"), memory,
    { ...layoutBase, xaxis: { title: { text: gettext("seconds since the run started") } }, yaxis: { title: { text: gettext("process memory (MiB)") } } }, config);
})();
