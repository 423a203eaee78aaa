/* TwinWeb cell twin: draws the stations of a cell as an SVG and updates them. Shared by the live and replay
   pages. Vanilla JS, no build step. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const BOX_W = 172, GAP = 18, LEFT = 19;
  const ICONS = {
    loading: "M20 34 L40 34 L40 14 M30 24 L40 14 L50 24",
    visual_inspection: "M14 22 h10 l4 -6 h16 l4 6 h10 v22 h-44 z M36 33 m-8 0 a8 8 0 1 0 16 0 a8 8 0 1 0 -16 0",
    dimensional_inspection: "M12 40 L56 40 M12 40 L12 30 M23 40 L23 34 M34 40 L34 30 M45 40 L45 34 M56 40 L56 30",
    failure_analysis: "M20 44 h24 M32 44 v-14 l14 -12 l8 6 M46 18 l-4 -6 M32 30 m-4 0 a4 4 0 1 0 8 0 a4 4 0 1 0 -8 0",
    unloading: "M20 14 L40 14 L40 34 M30 24 L40 34 L50 24",
  };

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, attrs, value) {
    const node = el("text", attrs, parent);
    node.textContent = value;
    return node;
  }

  /* Two lines of at most `max` characters, split at a space; the second is cut with an ellipsis if needed. */
  function splitName(name, max) {
    if (name.length <= max) return [name, ""];
    let cut = name.lastIndexOf(" ", max);
    if (cut <= 0) cut = max;
    const rest = name.slice(cut).trim();
    return [name.slice(0, cut), rest.length > max ? rest.slice(0, max - 1) + "…" : rest];
  }

  function build(svg, stations) {
    const layer = svg.querySelector("#twin-stations");
    layer.textContent = "";
    const empty = svg.querySelector("#twin-empty");
    if (empty) empty.style.display = stations.length ? "none" : "";
    const width = Math.min(BOX_W, (960 - GAP * (stations.length - 1)) / Math.max(1, stations.length));
    stations.forEach((st, i) => {
      const x = LEFT + i * (width + GAP);
      const g = el("g", { class: "station st-idle", "data-code": st.code, transform: `translate(${x},14)` }, layer);
      el("rect", { class: "st-box", width: width, height: 132, rx: 10 }, g);
      const [line1, line2] = splitName(st.name, Math.floor((width - 20) / 8.6));
      text(g, { class: "st-name", x: 12, y: 22 }, line1);
      if (line2) text(g, { class: "st-name", x: 12, y: 40 }, line2);
      text(g, { class: "st-state", x: 12, y: 60 }, "idle");
      const icon = el("g", { class: "st-icon", transform: `translate(${width - 66},44)` }, g);
      el("path", { d: ICONS[st.kind] || ICONS.loading }, icon);
      text(g, { class: "st-dwell", x: 12, y: 80 }, "");
      const verdict = el("g", { class: "st-verdict", transform: "translate(12,98)", style: "display:none" }, g);
      el("rect", { width: 74, height: 22, rx: 11 }, verdict);
      text(verdict, { x: 37, y: 15, "text-anchor": "middle" }, "");
      text(g, { class: "st-defect", x: 94, y: 114 }, "");
      const part = el("g", { class: "st-part", transform: `translate(${width / 2},166)`, style: "display:none" }, g);
      el("circle", { r: 15 }, part);
      text(part, { class: "st-serial", y: 38, "text-anchor": "middle" }, "");
      text(g, { class: "st-bottleneck", x: width / 2, y: 244, "text-anchor": "middle", style: "display:none" }, "▲ bottleneck");
    });
  }

  const STATES = ["running", "idle", "blocked", "fault", "stale"];
  const VERDICT_LABEL = { pass: "PASS", fail: "NOK", error: "ERROR", ok: "OK", nok: "NOK" };

  /* view: {code, state, part: {serial, status} | null, dwell_s, verdict: "pass"|"fail"|..., defect, bottleneck} */
  function update(svg, view) {
    const g = svg.querySelector(`.station[data-code="${CSS.escape(view.code)}"]`);
    if (!g) return;
    STATES.forEach((s) => g.classList.toggle("st-" + s, s === view.state));
    g.classList.toggle("is-bottleneck", !!view.bottleneck);
    g.querySelector(".st-state").textContent = view.state.toUpperCase();
    g.querySelector(".st-dwell").textContent = view.dwell_s != null && view.part ? `${view.dwell_s.toFixed(1)} s` : "";
    const verdict = g.querySelector(".st-verdict");
    if (view.verdict) {
      verdict.style.display = "";
      verdict.setAttribute("class", "st-verdict v-" + view.verdict);
      verdict.querySelector("text").textContent = VERDICT_LABEL[view.verdict] || view.verdict.toUpperCase();
    } else {
      verdict.style.display = "none";
    }
    g.querySelector(".st-defect").textContent = view.defect || "";
    const part = g.querySelector(".st-part");
    if (view.part) {
      part.style.display = "";
      part.setAttribute("class", "st-part ps-" + (view.part.status || "in_process"));
      // Long serials would run into the neighbours' labels: show the tail, the whole one on hover.
      const serial = view.part.serial;
      part.querySelector(".st-serial").textContent = serial.length > 16 ? "…" + serial.slice(-15) : serial;
      let title = part.querySelector("title");
      if (!title) title = el("title", {}, part);
      title.textContent = serial;
    } else {
      part.style.display = "none";
    }
    g.querySelector(".st-bottleneck").style.display = view.bottleneck ? "" : "none";
  }

  window.Twin = { build, update };
})();
