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
    $("replay-message").textContent = gettext("Loading…");
    const r = await fetch(cfg.journeyUrl.replace("SERIAL", encodeURIComponent(serial)), { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) { $("replay-message").textContent = r.status === 404 ? interpolate(gettext("No part %s in this cell."), [serial]) : interpolate(gettext("Could not load (HTTP %s)."), [r.status]); return; }
    const j = await r.json();
    R.journey = j;
    Twin.build($("twin"), j.stations);
    const loose = j.inspections_without_visit || [];
    const times = loose.map((i) => Date.parse(i.captured_at));
    j.steps.forEach((s) => { times.push(Date.parse(s.entered_at)); if (s.left_at) times.push(Date.parse(s.left_at)); s.inspections.forEach((i) => times.push(Date.parse(i.captured_at))); });
    if (!times.length) { $("replay-message").textContent = interpolate(gettext("%s has no station visit and no inspection recorded in this cell."), [serial]); return; }
    R.t0 = Math.min(...times) - 1000;
    R.t1 = Math.max(...times) + 1000;
    R.t = R.t0;
    $("replay-serial").textContent = j.serial;
    $("replay-status").textContent = `· ${j.part_type} · ${interpolate(gettext("batch %s"), [j.batch])} · ${j.status.replace("_", " ")}`;
    $("replay-range").textContent = `${fmt(R.t0)} → ${fmt(R.t1)} ` + interpolate(gettext("(%s s of real time)"), [((R.t1 - R.t0) / 1000).toLocaleString(document.documentElement.lang || "en", { maximumFractionDigits: 1, minimumFractionDigits: 1 })]);
    const where = [...new Set(loose.map((i) => i.station_name))].join(", ");
    const inspections = (n) => interpolate(ngettext("%s inspection", "%s inspections", n), [n]);
    $("replay-message").textContent = !loose.length ? interpolate(gettext("%s station visits."), [j.steps.length])
      : !j.steps.length ? interpolate(gettext("%(inspections)s (%(where)s) but no station visit recorded: the cell's station events for %(serial)s are missing. Showing the inspections at their capture times."), { inspections: inspections(loose.length), where: where, serial: j.serial }, true)
      : interpolate(gettext("%(visits)s station visits; %(inspections)s at %(where)s with no visit of that station recorded, shown at their capture times."), { visits: j.steps.length, inspections: inspections(loose.length), where: where }, true);
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
        h("strong", {}, s.station_name), " · " + interpolate(gettext("in %s"), [fmt(entered)]), left ? " · " + interpolate(gettext("out %(at)s (%(s)s s)"), { at: fmt(left), s: s.duration_s.toLocaleString(document.documentElement.lang || "en", { maximumFractionDigits: 1, minimumFractionDigits: 1 }) }, true) + ` · ${s.outcome.toUpperCase()}` : " · " + gettext("still there"),
        ...s.inspections.map(inspectionLine)));
    }
    for (const i of loose) {
      steps.append(h("li", { class: seen(i) ? "done no-visit" : "no-visit", "data-result-id": i.result_id },
        h("strong", {}, i.station_name), " · " + gettext("no station visit recorded"), inspectionLine(i)));
    }
    const ev = $("evidence");
    ev.textContent = "";
    if (latestImage) ev.append(h("h2", {}, gettext("Evidence")), h("img", { src: latestImage.image_url, alt: interpolate(gettext("image of %(serial)s at %(station)s"), { serial: j.serial, station: latestImage.station }, true) }), h("div", { class: "small muted" }, `${latestImage.station} · ${fmt(Date.parse(latestImage.captured_at))}`));
  }

  function inspectionLine(i) {
    return h("div", { class: "small" }, `${i.verdict === "fail" ? "NOK" : i.verdict.toUpperCase()}${i.defect_class ? " " + i.defect_class : ""} · ${i.model_version || gettext("model ?")} · ${i.backend || ""} ${i.precision || ""} · ${fmt(Date.parse(i.captured_at))}`);
  }

  function tick(now) {
    if (!R.playing) return;
    const speed = Number($("speed").value);
    R.t = Math.min(R.t1, R.t + (now - R.lastTick) * speed);
    R.lastTick = now;
    draw();
    if (R.t >= R.t1) { R.playing = false; $("play").textContent = "▶ " + gettext("Play"); return; }
    requestAnimationFrame(tick);
  }

  $("play").addEventListener("click", () => {
    R.playing = !R.playing;
    $("play").textContent = R.playing ? "❚❚ " + gettext("Pause") : "▶ " + gettext("Play");
    if (R.playing) { if (R.t >= R.t1) R.t = R.t0; R.lastTick = performance.now(); requestAnimationFrame(tick); }
  });
  $("timeline").addEventListener("input", (e) => { R.t = R.t0 + ((R.t1 - R.t0) * Number(e.target.value)) / 1000; draw(); });
  if (cfg.serial) load(cfg.serial);
})();
