// The characteristic page: draws the control chart pair and the histogram from the characteristic's API, and
// redraws when the cell stream (/ws/cells/<id>/) reports a result at the characteristic's station or an alarm.
// Without a socket it polls every cfg.pollS seconds. The database is the truth: every redraw re-fetches it.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("spc-config").textContent);
  const $ = (id) => document.getElementById(id);
  const live = $("spc-live");
  let pending = null;
  let socketOpen = false;

  const RULE_SHORT = { nelson_1: "1", nelson_2: "2", nelson_3: "3", nelson_4: "4", nelson_5: "5", nelson_6: "6",
    nelson_7: "7", nelson_8: "8", we_4: "WE4", dispersion_1: "D1" };

  function hline(y, color, dash, name) {
    return { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color, dash, width: 1.5 }, name };
  }
  function zone(y0, y1, color) {
    return { type: "rect", xref: "paper", x0: 0, x1: 1, y0, y1, fillcolor: color, opacity: 0.12, line: { width: 0 }, layer: "below" };
  }
  function label(y, text) {
    return { xref: "paper", x: 1, y, xanchor: "left", text, showarrow: false, font: { size: 10 } };
  }

  function drawLocation(d) {
    const p = d.points, L = d.limits, spec = d.spec;
    const shapes = [], notes = [];
    if (L) {
      const s = L.sigma_plotted, c = L.center;
      shapes.push(zone(c + 2 * s, c + 3 * s, "#d9534f"), zone(c - 3 * s, c - 2 * s, "#d9534f"),
        zone(c + s, c + 2 * s, "#f0ad4e"), zone(c - 2 * s, c - s, "#f0ad4e"), zone(c - s, c + s, "#5cb85c"));
      shapes.push(hline(c, "#333", "solid"), hline(L.ucl, "#c9302c", "dash"), hline(L.lcl, "#c9302c", "dash"));
      notes.push(label(L.ucl, "UCL " + L.ucl.toFixed(4)), label(L.lcl, "LCL " + L.lcl.toFixed(4)), label(c, "CL " + c.toFixed(4)));
    }
    if (d.characteristic.chart_kind === "imr") {
      if (spec.usl !== null) { shapes.push(hline(spec.usl, "#6f42c1", "dot")); notes.push(label(spec.usl, "USL")); }
      if (spec.lsl !== null) { shapes.push(hline(spec.lsl, "#6f42c1", "dot")); notes.push(label(spec.lsl, "LSL")); }
    }
    const baselineEnd = p.phase.lastIndexOf(1);
    if (baselineEnd >= 0) shapes.push({ type: "rect", xref: "x", yref: "paper", x0: p.index[0] - 0.5, x1: p.index[baselineEnd] + 0.5, y0: 0, y1: 1, fillcolor: "#888", opacity: 0.08, line: { width: 0 }, layer: "below" });
    const text = p.index.map((_, i) => `${p.serial[i] || ""} ${p.at[i] || ""}`);
    const traces = [{ x: p.index, y: p.location, mode: "lines+markers", name: d.characteristic.chart_kind === "imr" ? gettext("Individual") : gettext("Subgroup mean"), text, hovertemplate: "%{y:.5f}<br>%{text}<extra></extra>", marker: { size: 5 } }];
    const flagged = {};
    for (const [rule, idx] of Object.entries(p.violations)) {
      if (rule === "dispersion_1") continue;
      for (const i of idx) (flagged[i] = flagged[i] || []).push(RULE_SHORT[rule] || rule);
    }
    const fi = Object.keys(flagged).map(Number);
    if (fi.length) traces.push({ x: fi.map((i) => p.index[i]), y: fi.map((i) => p.location[i]), mode: "markers+text", name: gettext("Rule broken"), text: fi.map((i) => interpolate(gettext("rule %s"), [flagged[i].join(",")])), textposition: "top center", marker: { size: 12, symbol: "circle-open", color: "#c9302c", line: { width: 2 } }, hovertemplate: "%{text}<extra></extra>" });
    Plotly.react($("spc-location"), traces, { margin: { t: 10, r: 90, l: 60, b: 30 }, shapes, annotations: notes, showlegend: false, xaxis: { title: gettext("point") } }, { responsive: true, displaylogo: false });
  }

  function drawDispersion(d) {
    const p = d.points, L = d.limits;
    const name = { imr: gettext("Moving range"), xbar_r: gettext("Range"), xbar_s: gettext("Std deviation") }[d.characteristic.chart_kind];
    const shapes = [], notes = [];
    if (L) {
      shapes.push(hline(L.dispersion_center, "#333", "solid"), hline(L.dispersion_ucl, "#c9302c", "dash"));
      notes.push(label(L.dispersion_ucl, "UCL " + L.dispersion_ucl.toFixed(4)));
      if (L.dispersion_lcl > 0) { shapes.push(hline(L.dispersion_lcl, "#c9302c", "dash")); notes.push(label(L.dispersion_lcl, "LCL")); }
    }
    const traces = [{ x: p.index, y: p.dispersion, mode: "lines+markers", name, marker: { size: 4 } }];
    const idx = p.violations.dispersion_1 || [];
    if (idx.length) traces.push({ x: idx.map((i) => p.index[i]), y: idx.map((i) => p.dispersion[i]), mode: "markers", name: gettext("Beyond limits"), marker: { size: 12, symbol: "circle-open", color: "#c9302c", line: { width: 2 } } });
    Plotly.react($("spc-dispersion"), traces, { margin: { t: 10, r: 90, l: 60, b: 30 }, shapes, annotations: notes, showlegend: false, yaxis: { title: name } }, { responsive: true, displaylogo: false });
  }

  function drawHistogram(d) {
    const h = d.histogram, spec = d.spec;
    if (!h || !h.edges) return;
    const centres = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
    const width = h.edges[1] - h.edges[0];
    const traces = [{ type: "bar", x: centres, y: h.counts, width, name: gettext("Values"), marker: { color: "#5b8def" } }];
    if (h.fit_y && h.fit_y.length) traces.push({ x: h.fit_x, y: h.fit_y, mode: "lines", name: interpolate(gettext("Fitted %s"), [h.fit_name]), line: { color: "#222" } });
    const shapes = [], notes = [];
    for (const [key, v] of [["LSL", spec.lsl], ["USL", spec.usl]]) {
      if (v === null) continue;
      shapes.push({ type: "line", yref: "paper", x0: v, x1: v, y0: 0, y1: 1, line: { color: "#6f42c1", dash: "dot", width: 2 } });
      notes.push({ x: v, yref: "paper", y: 1, text: key, showarrow: false, yanchor: "bottom" });
    }
    Plotly.react($("spc-histogram"), traces, { margin: { t: 20, r: 10, l: 50, b: 30 }, shapes, annotations: notes, bargap: 0.02, legend: { orientation: "h" } }, { responsive: true, displaylogo: false });
  }

  async function refresh() {
    pending = null;
    try {
      const r = await fetch(cfg.dataUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const d = await r.json();
      $("spc-window").textContent = d.points.index.length;
      drawLocation(d); drawDispersion(d); drawHistogram(d);
      const v = $("spc-verdict");
      if (v) v.innerHTML = `<span class="badge badge-${d.verdict.badge}"></span> <span class="state state-${d.state.value}"></span>`;
      if (v) { v.children[0].textContent = d.verdict.label; v.children[1].textContent = d.state.label; }
      live.dataset.updated = new Date().toISOString();
    } catch (e) {
      live.textContent = interpolate(gettext("could not load the chart data: %s"), [e.message]);
    }
  }
  function soon() { if (!pending) pending = setTimeout(refresh, 1500); }

  function connect() {
    let ws;
    try { ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + cfg.wsPath); } catch (e) { return; }
    ws.onopen = () => { socketOpen = true; live.textContent = gettext("live: following the cell stream"); };
    ws.onclose = () => { socketOpen = false; live.textContent = interpolate(gettext("live: reconnecting (polling every %s s)"), [cfg.pollS]); setTimeout(connect, 5000); };
    ws.onmessage = (m) => {
      let f; try { f = JSON.parse(m.data); } catch (e) { return; }
      if (f.type === "resync" || f.type === "snapshot") { soon(); return; }
      if (f.type !== "event" || !f.event) return;
      const ev = f.event;
      if ((ev.type === "inspection.recorded" && ev.station === cfg.station) || ev.type.startsWith("alarm.")) soon();
    };
  }
  setInterval(() => { if (!socketOpen) refresh(); }, cfg.pollS * 1000);
  refresh();
  connect();
})();
