/* Part journey replay: the part's real station timestamps, verdicts and images, played back on the twin. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("live-config").textContent);
  const $ = (id) => document.getElementById(id);
  const R = { journey: null, t0: 0, t1: 0, t: 0, playing: false, lastTick: 0 };
  const fmt = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) + "." + String(new Date(ms).getMilliseconds()).padStart(3, "0").slice(0, 1);

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) node.setAttribute(k, v);
    for (const c of children.flat()) if (c != null) node.append(c);
    return node;
  }

  async function load(serial) {
    $("replay-message").textContent = "Loading…";
    const r = await fetch(cfg.journeyUrl.replace("SERIAL", encodeURIComponent(serial)), { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) { $("replay-message").textContent = r.status === 404 ? `No part ${serial} in this cell.` : `Could not load (HTTP ${r.status}).`; return; }
    const j = await r.json();
    R.journey = j;
    Twin.build($("twin"), j.stations);
    const loose = j.inspections_without_visit || [];
    const times = loose.map((i) => Date.parse(i.captured_at));
    j.steps.forEach((s) => { times.push(Date.parse(s.entered_at)); if (s.left_at) times.push(Date.parse(s.left_at)); s.inspections.forEach((i) => times.push(Date.parse(i.captured_at))); });
    if (!times.length) { $("replay-message").textContent = `${serial} has no station visit and no inspection recorded in this cell.`; return; }
    R.t0 = Math.min(...times) - 1000;
    R.t1 = Math.max(...times) + 1000;
    R.t = R.t0;
    $("replay-serial").textContent = j.serial;
    $("replay-status").textContent = `· ${j.part_type} · batch ${j.batch} · ${j.status.replace("_", " ")}`;
    $("replay-range").textContent = `${fmt(R.t0)} → ${fmt(R.t1)} (${((R.t1 - R.t0) / 1000).toFixed(1)} s of real time)`;
    const where = [...new Set(loose.map((i) => i.station_name))].join(", ");
    const inspections = (n) => `${n} inspection${n === 1 ? "" : "s"}`;
    $("replay-message").textContent = !loose.length ? `${j.steps.length} station visits.`
      : !j.steps.length ? `${inspections(loose.length)} (${where}) but no station visit recorded: the cell's station events for ${j.serial} are missing. Showing the inspections at their capture times.`
      : `${j.steps.length} station visits; ${inspections(loose.length)} at ${where} with no visit of that station recorded, shown at their capture times.`;
    $("timeline").disabled = false;
    $("play").disabled = false;
    draw();
  }

  function draw() {
    const j = R.journey;
    if (!j) return;
    const t = R.t;
    $("timeline").value = String(Math.round((1000 * (t - R.t0)) / (R.t1 - R.t0)));
    $("replay-clock").textContent = fmt(t);
    let latestImage = null;
    const steps = $("steps");
    steps.textContent = "";
    const seen = (i) => Date.parse(i.captured_at) <= t;
    const loose = j.inspections_without_visit || [];
    for (const st of j.stations) {
      const visit = j.steps.filter((s) => s.station === st.code && Date.parse(s.entered_at) <= t).pop();
      const here = visit && (!visit.left_at || Date.parse(visit.left_at) > t);
      const shown = visit ? visit.inspections.filter(seen) : loose.filter((i) => i.station === st.code && seen(i));
      const last = shown[shown.length - 1];
      if (last && last.image_url) latestImage = last;
      const left = visit && visit.left_at && Date.parse(visit.left_at) <= t;
      Twin.update($("twin"), {
        code: st.code,
        state: here ? "running" : "idle",
        part: here ? { serial: j.serial, status: "in_process" } : null,
        dwell_s: here ? (t - Date.parse(visit.entered_at)) / 1000 : null,
        verdict: last ? last.verdict : left && visit.outcome !== "in_progress" ? visit.outcome : null,
        defect: last && last.verdict === "fail" ? last.defect_class : "",
        bottleneck: false,
      });
    }
    for (const s of j.steps) {
      const entered = Date.parse(s.entered_at), left = s.left_at ? Date.parse(s.left_at) : null;
      const cls = entered <= t && (!left || left > t) ? "current" : left && left <= t ? "done" : "";
      steps.append(h("li", { class: cls },
        h("strong", {}, s.station_name), ` · in ${fmt(entered)}`, left ? ` · out ${fmt(left)} (${s.duration_s.toFixed(1)} s) · ${s.outcome.toUpperCase()}` : " · still there",
        ...s.inspections.map(inspectionLine)));
    }
    for (const i of loose) {
      steps.append(h("li", { class: seen(i) ? "done no-visit" : "no-visit", "data-result-id": i.result_id },
        h("strong", {}, i.station_name), " · no station visit recorded", inspectionLine(i)));
    }
    const ev = $("evidence");
    ev.textContent = "";
    if (latestImage) ev.append(h("h2", {}, "Evidence"), h("img", { src: latestImage.image_url, alt: `image of ${j.serial} at ${latestImage.station}` }), h("div", { class: "small muted" }, `${latestImage.station} · ${fmt(Date.parse(latestImage.captured_at))}`));
  }

  function inspectionLine(i) {
    return h("div", { class: "small" }, `${i.verdict === "fail" ? "NOK" : i.verdict.toUpperCase()}${i.defect_class ? " " + i.defect_class : ""} · ${i.model_version || "model ?"} · ${i.backend || ""} ${i.precision || ""} · ${fmt(Date.parse(i.captured_at))}`);
  }

  function tick(now) {
    if (!R.playing) return;
    const speed = Number($("speed").value);
    R.t = Math.min(R.t1, R.t + (now - R.lastTick) * speed);
    R.lastTick = now;
    draw();
    if (R.t >= R.t1) { R.playing = false; $("play").textContent = "▶ Play"; return; }
    requestAnimationFrame(tick);
  }

  $("play").addEventListener("click", () => {
    R.playing = !R.playing;
    $("play").textContent = R.playing ? "❚❚ Pause" : "▶ Play";
    if (R.playing) { if (R.t >= R.t1) R.t = R.t0; R.lastTick = performance.now(); requestAnimationFrame(tick); }
  });
  $("timeline").addEventListener("input", (e) => { R.t = R.t0 + ((R.t1 - R.t0) * Number(e.target.value)) / 1000; draw(); });
  if (cfg.serial) load(cfg.serial);
})();
