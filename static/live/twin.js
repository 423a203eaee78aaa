/* TwinWeb cell twin: draws the stations of a cell as an SVG and updates them. Shared by the live and replay
   pages. Vanilla JS, no build step.

   The drawing is as wide in SVG units as the SVG is on screen (between MIN_W and MAX_W), so its text keeps its
   CSS size on a tablet instead of shrinking with a 1000-unit drawing; it is laid out again when that width
   changes. Text that would not fit its place is cut with an ellipsis, the whole of it in a tooltip. */
(function () {
  "use strict";
  // Station states as the page's language names them (the catalog comes from /jsi18n/).
  const STATE_LABEL = { running: gettext("running"), idle: gettext("idle"), blocked: gettext("blocked"), fault: gettext("fault"), stale: gettext("stale") };
  const NS = "http://www.w3.org/2000/svg";
  const MIN_W = 640, MAX_W = 1000, HEIGHT = 262;
  const BOX_W = 172, BOX_H = 132, TOP = 14, PAD = 12;
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

  function tooltip(node, value) {
    let title = node.querySelector("title");
    if (!value) { if (title) title.remove(); return; }
    if (!title) title = el("title", {}, node);
    title.textContent = value;
  }

  /* Sets node's text to value, cut with "…" (at the start when fromEnd: serials differ at their end) to fit
     maxWidth SVG units. Returns whether it was cut. */
  function fit(node, value, maxWidth, fromEnd) {
    node.textContent = value;
    if (!value || node.getComputedTextLength() <= maxWidth) return false;
    let keep = value.length - 1;
    while (keep > 1) {
      node.textContent = fromEnd ? "…" + value.slice(value.length - keep) : value.slice(0, keep).trimEnd() + "…";
      if (node.getComputedTextLength() <= maxWidth) break;
      keep -= 1;
    }
    return true;
  }

  /* A station name on at most two lines: as many words as fit on the first, the rest (cut if need be) on the
     second. */
  function fitName(line1, line2, name, maxWidth) {
    const words = name.split(/\s+/);
    let n = words.length;
    while (n > 1) {
      line1.textContent = words.slice(0, n).join(" ");
      if (line1.getComputedTextLength() <= maxWidth) break;
      n -= 1;
    }
    const cut1 = fit(line1, words.slice(0, n).join(" "), maxWidth, false);
    const cut2 = fit(line2, words.slice(n).join(" "), maxWidth, false);
    return cut1 || cut2;
  }

  function drawingWidth(svg) {
    const shown = svg.getBoundingClientRect().width || MAX_W;
    return Math.round(Math.max(MIN_W, Math.min(MAX_W, shown)));
  }

  function build(svg, stations) {
    const W = drawingWidth(svg);
    svg._twin = { stations, width: W, views: (svg._twin && svg._twin.views) || {} };
    svg.setAttribute("viewBox", `0 0 ${W} ${HEIGHT}`);
    const conveyor = svg.querySelector(".conveyor");
    if (conveyor) conveyor.setAttribute("width", W - 20);
    const layer = svg.querySelector("#twin-stations");
    layer.textContent = "";
    const empty = svg.querySelector("#twin-empty");
    if (empty) { empty.style.display = stations.length ? "none" : ""; empty.setAttribute("x", W / 2); }
    const n = Math.max(1, stations.length);
    const gap = W < 800 ? 10 : 18;
    const width = Math.min(BOX_W, (W - 40 - gap * (n - 1)) / n);
    const left = (W - (n * width + (n - 1) * gap)) / 2;
    const narrow = width < 150;
    svg.classList.toggle("twin-narrow", narrow);
    // Icon path coordinates span x 12..56, y 12..44: scaled to its corner, clear of the state and dwell lines.
    const iconScale = narrow ? 0.6 : 1;
    const iconX = width - 8 - 56 * iconScale, iconY = (narrow ? 60 : 52) - 12 * iconScale;
    const badgeW = narrow ? 58 : 74;
    stations.forEach((st, i) => {
      const x = left + i * (width + gap);
      const g = el("g", { class: "station st-idle", "data-code": st.code, transform: `translate(${x},${TOP})` }, layer);
      g._fit = { width, pitch: width + gap };
      el("rect", { class: "st-box", width: width, height: BOX_H, rx: 10 }, g);
      const name1 = text(g, { class: "st-name", x: PAD, y: 22 }, "");
      const name2 = text(g, { class: "st-name", x: PAD, y: 41 }, "");
      tooltip(g, fitName(name1, name2, st.name, width - 2 * PAD) ? st.name : "");
      text(g, { class: "st-state", x: PAD, y: 60 }, STATE_LABEL.idle.toUpperCase());
      const icon = el("g", { class: "st-icon", transform: `translate(${iconX},${iconY}) scale(${iconScale})` }, g);
      el("path", { d: ICONS[st.kind] || ICONS.loading }, icon);
      text(g, { class: "st-dwell", x: PAD, y: 78 }, "");
      const verdict = el("g", { class: "st-verdict", transform: `translate(${PAD},86)`, style: "display:none" }, g);
      el("rect", { width: badgeW, height: 22, rx: 11 }, verdict);
      text(verdict, { x: badgeW / 2, y: 16, "text-anchor": "middle" }, "");
      text(el("g", { class: "st-defect-wrap" }, g), { class: "st-defect", x: PAD, y: 124 }, "");
      const part = el("g", { class: "st-part", transform: `translate(${width / 2},${180 - TOP})`, style: "display:none" }, g);
      el("circle", { r: 15 }, part);
      text(part, { class: "st-serial", y: 38, "text-anchor": "middle" }, "");
      text(g, { class: "st-bottleneck", x: width / 2, y: 244, "text-anchor": "middle", style: "display:none" }, "▲ bottleneck");
    });
    for (const view of Object.values(svg._twin.views)) update(svg, view);
    watch(svg);
  }

  /* Lay the drawing out again when the SVG's width on screen changes (rotation, resize). */
  function watch(svg) {
    if (svg._twinWatch || typeof ResizeObserver === "undefined") return;
    let pending = null;
    svg._twinWatch = new ResizeObserver(() => {
      clearTimeout(pending);
      pending = setTimeout(() => { if (svg._twin && drawingWidth(svg) !== svg._twin.width) build(svg, svg._twin.stations); }, 100);
    });
    svg._twinWatch.observe(svg);
  }

  const STATES = ["running", "idle", "blocked", "fault", "stale"];
  const VERDICT_LABEL = { pass: gettext("PASS"), fail: "NOK", error: gettext("ERROR"), ok: "OK", nok: "NOK" };

  /* view: {code, state, part: {serial, status} | null, dwell_s, verdict: "pass"|"fail"|..., defect, bottleneck} */
  function update(svg, view) {
    if (svg._twin) svg._twin.views[view.code] = view;
    const g = svg.querySelector(`.station[data-code="${CSS.escape(view.code)}"]`);
    if (!g) return;
    const { width, pitch } = g._fit;
    STATES.forEach((s) => g.classList.toggle("st-" + s, s === view.state));
    g.classList.toggle("is-bottleneck", !!view.bottleneck);
    g.querySelector(".st-state").textContent = (STATE_LABEL[view.state] || view.state).toUpperCase();
    g.querySelector(".st-dwell").textContent = view.dwell_s != null && view.part ? `${Number(view.dwell_s).toLocaleString(document.documentElement.lang || "en", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} s` : "";
    const verdict = g.querySelector(".st-verdict");
    if (view.verdict) {
      verdict.style.display = "";
      verdict.setAttribute("class", "st-verdict v-" + view.verdict);
      verdict.querySelector("text").textContent = VERDICT_LABEL[view.verdict] || view.verdict.toUpperCase();
    } else {
      verdict.style.display = "none";
    }
    const defect = g.querySelector(".st-defect");
    const defectText = (view.defect || "").replace(/_/g, " ");
    if (defect.dataset.full !== defectText) {
      defect.dataset.full = defectText;
      tooltip(defect.parentNode, fit(defect, defectText, width - 2 * PAD, false) ? defectText : "");
    }
    const part = g.querySelector(".st-part");
    if (view.part) {
      part.style.display = "";
      part.setAttribute("class", "st-part ps-" + (view.part.status || "in_process"));
      // Long serials would run into the neighbours' labels: show the tail, the whole one on hover.
      const serial = view.part.serial;
      const label = part.querySelector(".st-serial");
      if (label.dataset.full !== serial) {
        label.dataset.full = serial;
        fit(label, serial, pitch - 24, true);
        tooltip(part, serial);
      }
    } else {
      part.style.display = "none";
    }
    g.querySelector(".st-bottleneck").style.display = view.bottleneck ? "" : "none";
  }

  window.Twin = { build, update };
})();
