/* TwinWeb live cell view. The database is the truth: the page starts from the snapshot the socket pushes on
   connect, applies events in sequence order, and re-fetches the snapshot (GET stateUrl) after a gap, a coalesced
   frame, a reconnect or a heartbeat that is ahead of it. Which snapshot and which events apply, in which order,
   is sequencer.js's job. Vanilla JS, no build step; Plotly is served by the app. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("live-config").textContent);
  const $ = (id) => document.getElementById(id);
  // Three missed server heartbeats: the socket is dead even if the browser never saw it close (half-open).
  const HEARTBEAT_TIMEOUT_MS = Math.max(10000, 3000 * (cfg.heartbeatS || 5));
  const RECENT_MAX = 12;
  const HEALTH_LABEL = { online: gettext("online"), stale: gettext("stale"), offline: gettext("offline"), never_seen: gettext("never seen") };
  const POINTS_MAX = 200;
  // Events carry codes; the page names them in its own language (an event's English rule_label is only a fallback:
  // events are published outside any request, so in the server's default language).
  const RULE_LABEL = {
    nok_streak: gettext("Three NOK in a row at a station"),
    // xgettext:no-javascript-format
    slow_cycle: gettext("Cycle time over target by 20% for ten parts"),
    stale_device: gettext("Edge device stale"),
    spc: gettext("SPC run rule violated"),
    link_gap: gettext("PLC events lost on the cell link"),
  };
  const VERDICT_BADGE = { pass: gettext("PASS"), fail: "NOK", error: gettext("ERROR") };
  const REVIEW_VERDICT = { confirm_nok: gettext("NOK confirmed"), override_ok: gettext("Overridden to OK (false reject)"), confirm_ok: gettext("OK confirmed") };
  const DISPOSITION = { scrap: gettext("Scrap"), rework: gettext("Rework"), line: gettext("Back to the line") };
  const defectName = (key) => (key === "out of tolerance" ? gettext("out of tolerance") : key.replace(/_/g, " "));

  const S = {
    state: null, ws: null, attempt: 0, lastFrameAt: 0, offsetMs: 0, everConnected: false,
    degraded: null, resyncing: false, resyncAgain: [], pollTimer: null, chartsDirty: true, chartsAt: 0,
    kpiTimer: null, connected: false, stopped: null,
  };
  const Seq = LiveSequencer.create({
    snapshot: (state) => applySnapshot(state),
    event: (frame, receivedAt) => applyEvent(frame.event, frame, receivedAt),
  });
  // Read by the end-to-end test and bench/live.py: counts, why the page re-fetched, result-to-DOM latency per
  // inspection event.
  const probe = (window.__twin = {
    status: "connecting", events: 0, gaps: 0, resyncs: 0, resyncReasons: [], snapshots: 0, snapshotsDropped: 0,
    latencies: [], lastSeq: () => Seq.lastSeq,
  });

  // ---------------------------------------------------------------- helpers
  const serverNow = () => Date.now() + S.offsetMs;

  const tenths = (v) => Math.round(10 * v) / 10; // a duration as the page shows it
  // Numbers as the page's language writes them (pt-BR: decimal comma); the catalog (jsi18n) sets the locale.
  const LOCALE = document.documentElement.lang || "en";
  const decimal = (v, d) => Number(v).toLocaleString(LOCALE, { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: false });
  const pct = (v) => (v == null ? "–" : decimal(100 * v, 1) + " %");
  const num = (v, d = 1) => (v == null ? "–" : decimal(v, d));
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString(LOCALE, { hour12: false }) : "–");
  function ageText(iso) {
    if (!iso) return gettext("never");
    const s = Math.max(0, (serverNow() - Date.parse(iso)) / 1000);
    return s < 90 ? interpolate(gettext("%s s ago"), [decimal(s, 0)]) : s < 5400 ? interpolate(gettext("%s min ago"), [decimal(s / 60, 0)]) : interpolate(gettext("%s h ago"), [decimal(s / 3600, 1)]);
  }
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function csrfToken() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // ---------------------------------------------------------------- banner and connection pill
  function setConn(kind, label) {
    const pill = $("conn");
    const colour = { live: "ok", reconnecting: "warn", degraded: "warn", connecting: "neutral", refused: "bad" }[kind];
    pill.className = "badge badge-" + (colour || "neutral");
    pill.dataset.state = kind;
    pill.textContent = label || kind;
    probe.status = kind;
    document.body.classList.toggle("live-disconnected", kind === "reconnecting" || kind === "refused");
  }
  function banner(kind, message) {
    const b = $("banner");
    if (!kind) { b.hidden = true; b.textContent = ""; b.dataset.kind = ""; return; }
    b.hidden = false;
    b.dataset.kind = kind;
    b.className = "live-banner banner-" + kind;
    b.textContent = message;
  }

  // ---------------------------------------------------------------- WebSocket
  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + cfg.wsPath;
  }
  function connect() {
    if (S.stopped) return;
    setConn(S.everConnected ? "reconnecting" : "connecting", S.everConnected ? gettext("reconnecting…") : gettext("connecting…"));
    let ws;
    try { ws = new WebSocket(wsUrl()); } catch (e) { scheduleReconnect(); return; }
    S.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      // A reconnect: whatever happened while the socket was down is in the database, not in the stream. Fetch
      // the snapshot over HTTP (the one the server pushes races it; the sequencer applies the newer).
      if (S.everConnected) { Seq.restart(); resync("reconnect"); }
    };
    ws.onmessage = (m) => {
      S.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(m.data); } catch (e) { return; }
      onFrame(frame, S.lastFrameAt);
    };
    ws.onclose = (e) => {
      if (S.ws !== ws) return;
      S.ws = null;
      S.connected = false;
      if (e.code === CLOSE_SIGNED_OUT) return stop("signed-out");
      if (e.code === CLOSE_FORBIDDEN) return stop("refused");
      // A handshake the server refuses (HTTP 403 before accept) reaches the browser as 1006, the same code as a
      // server that is down. Ask over HTTP which it was: 401/403 means signed out or refused, anything else
      // (including no answer at all) means try again.
      if (!opened) { checkAccess().then((why) => (why ? stop(why) : scheduleReconnect())); return; }
      scheduleReconnect();
    };
  }
  const CLOSE_SIGNED_OUT = 4401;
  const CLOSE_FORBIDDEN = 4403;
  /** "signed-out" (401), "refused" (403) or null (allowed, or the server did not answer). */
  async function checkAccess() {
    try {
      const r = await fetch(cfg.stateUrl, {
        credentials: "same-origin", cache: "no-store", redirect: "manual",
        headers: { Accept: "application/json", "X-Twin-Resync": "access check" },
      });
      return r.status === 401 ? "signed-out" : r.status === 403 ? "refused" : null;
    } catch (e) {
      return null;
    }
  }
  /** Signed out or refused: say so, offer the sign-in page, stop reconnecting and polling (the server would
      refuse every try; a new sign-in loads the page again). */
  function stop(why) {
    S.stopped = why;
    stopPolling();
    if (S.kpiTimer) { clearTimeout(S.kpiTimer); S.kpiTimer = null; }
    const signedOut = why === "signed-out";
    setConn("refused", signedOut ? gettext("signed out") : gettext("no access"));
    $("conn").dataset.reason = why;
    const b = $("banner");
    b.hidden = false;
    b.dataset.kind = "refused";
    b.className = "live-banner banner-refused";
    b.replaceChildren(
      signedOut
        ? gettext("You are signed out: this page no longer receives the cell's updates. Values shown are not live.")
        : gettext("The server refused this page's connection: your account may not watch this cell (any more). Values shown are not live."),
      " ",
      h("a", { href: `${cfg.loginUrl}?next=${encodeURIComponent(location.pathname + location.search)}`, class: "button", id: "sign-in" },
        gettext("Sign in")),
    );
  }
  function scheduleReconnect() {
    if (S.stopped) return;
    S.attempt += 1;
    const base = Math.min(10000, 500 * 2 ** (S.attempt - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    setConn("reconnecting", gettext("reconnecting…"));
    banner("reconnecting", interpolate(gettext("Connection to the cell lost: reconnecting (attempt %(attempt)s, next try in %(delay)s s). Values shown are not live."),
      { attempt: S.attempt, delay: decimal(delay / 1000, 1) }, true));
    setTimeout(connect, delay);
  }

  function onFrame(frame, receivedAt) {
    switch (frame.type) {
      case "snapshot":
        S.attempt = 0;
        S.everConnected = true;
        S.connected = true;
        takeSnapshot(frame.state, Seq.epoch);
        if (!S.degraded) banner(null);
        setConn(S.degraded ? "degraded" : "live", S.degraded ? gettext("degraded") : gettext("live"));
        break;
      case "event":
        onEvent(frame, receivedAt);
        break;
      case "heartbeat":
        onHeartbeat(frame);
        break;
      case "resync":
        resync(frame.reason || "server asked");
        break;
      default:
        break;
    }
  }

  function onEvent(frame, receivedAt) {
    const r = Seq.event(frame, receivedAt); // applied now unless already shown; kept for a snapshot older than it
    if (!r.applied) return;
    probe.events += 1;
    $("seq").textContent = Seq.lastSeq;
    if (r.gap || frame.coalesced) {
      probe.gaps += 1;
      resync(r.gap ? `gap before seq ${frame.seq}` : "coalesced updates");
    }
  }

  /** A snapshot from the socket or from GET stateUrl, read in sequencer epoch `epoch`. */
  function takeSnapshot(state, epoch) {
    const r = Seq.snapshot(state, epoch);
    if (!r.applied) { probe.snapshotsDropped += 1; return r; }
    $("seq").textContent = Seq.lastSeq;
    if (r.gap) { probe.gaps += 1; resync("gap after the snapshot"); }
    return r;
  }

  function onHeartbeat(frame) {
    if (frame.server_time) S.offsetMs = Date.parse(frame.server_time) - Date.now();
    if (frame.degraded) {
      if (!S.degraded) startPolling();
      S.degraded = frame.degraded;
      setConn("degraded", gettext("degraded"));
      banner("degraded", interpolate(gettext("Live updates degraded (%s): the page refreshes from the database every 5 s."), [frame.degraded]));
      return;
    }
    if (S.degraded) {
      S.degraded = null;
      stopPolling();
      banner(null);
      setConn("live", gettext("live"));
      Seq.restart(); // Redis may have come back without its counters
      resync("event bus back");
      return;
    }
    if (frame.seq != null && frame.seq < Seq.lastSeq) {
      // The counter went backwards (Redis restarted without its data): start again from the snapshot.
      Seq.restart();
      resync("sequence reset");
      return;
    }
    if (frame.seq != null && frame.seq > Seq.lastSeq) {
      const expected = frame.seq, epoch = Seq.epoch;
      // Events still in flight arrive within moments; only a seq still missing after that is lost.
      setTimeout(() => { if (Seq.epoch === epoch && Seq.lastSeq < expected) resync(`missed events up to seq ${expected}`); }, 1500);
    }
  }

  function startPolling() {
    stopPolling();
    S.pollTimer = setInterval(() => resync("polling while degraded"), 5000);
  }
  function stopPolling() {
    if (S.pollTimer) clearInterval(S.pollTimer);
    S.pollTimer = null;
  }

  /** Fetch the snapshot (GET stateUrl) and apply it through the sequencer. One fetch at a time: reasons that
      come while one is on its way are sent with the next (the X-Twin-Resync header says why, for the logs and
      the end-to-end test). */
  async function resync(reason) {
    if (S.stopped) return;
    if (S.resyncing) { if (!S.resyncAgain.includes(reason)) S.resyncAgain.push(reason); return; }
    S.resyncing = true;
    probe.resyncs += 1;
    probe.resyncReasons.push(reason);
    if (probe.resyncReasons.length > 100) probe.resyncReasons.shift();
    const epoch = Seq.epoch; // a restart while this is on its way makes its answer stale: the sequencer drops it
    try {
      const r = await fetch(cfg.stateUrl, {
        credentials: "same-origin", cache: "no-store",
        headers: { Accept: "application/json", "X-Twin-Resync": reason.replace(/[^\x20-\x7e]/g, "?") },
      });
      if (r.status === 401 || r.status === 403) { stop(r.status === 401 ? "signed-out" : "refused"); return; }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      takeSnapshot(await r.json(), epoch);
      if (S.degraded == null && S.connected) banner(null);
    } catch (e) {
      banner("degraded", interpolate(gettext("Cannot refresh from the server (%s): retrying."), [e.message]));
      setTimeout(() => resync("retry"), 3000);
    } finally {
      S.resyncing = false;
      if (S.resyncAgain.length) {
        const again = S.resyncAgain.join("; ");
        S.resyncAgain = [];
        setTimeout(() => resync(again), 250);
      }
    }
  }

  // ---------------------------------------------------------------- state
  function applySnapshot(state) {
    const first = !S.state || S.state.stations.map((s) => s.code).join() !== state.stations.map((s) => s.code).join();
    S.state = state;
    probe.snapshots += 1;
    if (state.server_time) S.offsetMs = Date.parse(state.server_time) - Date.now();
    if (first) Twin.build($("twin"), state.stations);
    renderAll();
  }

  const station = (code) => S.state.stations.find((s) => s.code === code);
  const lastStationCode = () => S.state.stations.length ? S.state.stations[S.state.stations.length - 1].code : null;

  function applyEvent(ev, frame, receivedAt) {
    const st = S.state;
    switch (ev.type) {
      case "station.entered": {
        const target = station(ev.station);
        st.stations.forEach((s) => { if (s !== target && s.part && s.part.serial === ev.serial) s.part = null; });
        if (target) target.part = { serial: ev.serial, status: "in_process", entered_at: ev.at };
        st.cell_last_event_at = ev.at;
        renderTwin();
        break;
      }
      case "station.left": {
        const target = station(ev.station);
        if (target) {
          if (target.part && target.part.serial === ev.serial) target.part = null;
          target.last_outcome = ev.outcome;
        }
        st.cell_last_event_at = ev.at;
        renderTwin();
        if (ev.station === lastStationCode()) scheduleKpiRefresh();
        break;
      }
      case "inspection.recorded": {
        const target = station(ev.station);
        if (target) {
          target.last_verdict = { verdict: ev.verdict, defect_class: ev.defect_class, serial: ev.serial, result_id: ev.result_id, at: ev.captured_at };
        }
        if (!st.recent.some((r) => r.result_id === ev.result_id)) {
          st.recent.unshift(ev);
          st.recent.length = Math.min(st.recent.length, RECENT_MAX);
          if (ev.verdict === "fail") {
            const cls = ev.defect_class && ev.defect_class !== "ok" ? ev.defect_class : "out of tolerance"; // the server's Pareto key (live.selectors)
            const row = st.charts.pareto.find((p) => p.defect_class === cls);
            if (row) row.count += 1; else st.charts.pareto.push({ defect_class: cls, count: 1 });
            st.charts.pareto.sort((a, b) => b.count - a.count);
          }
          if (ev.energy_mj != null) {
            let row = st.charts.energy.find((p) => p.serial === ev.serial);
            if (!row) { row = { serial: ev.serial, energy_mj: 0, inspections: 0 }; st.charts.energy.push(row); }
            row.energy_mj += ev.energy_mj;
            row.inspections += 1;
            if (st.charts.energy.length > POINTS_MAX) st.charts.energy.shift();
          }
          if (ev.avg_power_mw != null && !st.devices.some((d) => d.fps != null)) {
            pushPower({ at: ev.captured_at, device_id: ev.device_id || "", power_mw: ev.avg_power_mw, fps: null });
          }
        }
        renderTwin();
        renderRecent();
        S.chartsDirty = true;
        if (receivedAt != null) recordLatency(ev, frame, receivedAt); // not when re-applied after a snapshot
        break;
      }
      case "device.telemetry": {
        let d = st.devices.find((x) => x.device_id === ev.device_id);
        if (!d) { d = { device_id: ev.device_id, name: ev.device_id }; st.devices.push(d); }
        Object.assign(d, {
          backend: ev.backend ?? d.backend, precision: ev.precision ?? d.precision, model_version: ev.model_version ?? d.model_version,
          fps: ev.fps, power_mw: ev.power_mw, memory: ev.memory, temperature: ev.temperature, gpu_load: ev.gpu_load,
          last_heartbeat_at: ev.at,
        });
        pushPower({ at: ev.at, device_id: ev.device_id, power_mw: ev.power_mw, fps: ev.fps });
        renderDevices();
        renderTwin();
        S.chartsDirty = true;
        break;
      }
      case "part.status": {
        st.stations.forEach((s) => { if (s.part && s.part.serial === ev.serial) s.part.status = ev.status; });
        renderTwin();
        scheduleKpiRefresh(); // a part with a final status leaves the cell (rejects through the cobot station)
        break;
      }
      case "review.signed": {
        // An operator confirmed or overrode the machine's verdict in Debug Mode: show the human decision.
        const r = st.recent.find((x) => x.result_id === ev.result_id);
        if (r) r.review = { verdict: ev.verdict, disposition: ev.disposition, signer: ev.signer, at: ev.at };
        renderRecent();
        scheduleKpiRefresh();
        break;
      }
      case "alarm.raised":
      case "alarm.acknowledged":
      case "alarm.cleared": {
        const a = ev.alarm;
        st.alarms = st.alarms.filter((x) => x.id !== a.id);
        if (ev.type !== "alarm.cleared") st.alarms.unshift(a);
        renderAlarms();
        renderTwin();
        break;
      }
      default:
        break;
    }
  }

  function pushPower(point) {
    const arr = S.state.charts.power;
    arr.push(point);
    if (arr.length > POINTS_MAX) arr.splice(0, arr.length - POINTS_MAX);
  }

  function scheduleKpiRefresh() {
    // KPIs and the cycle chart are computed by the server from the database: refresh them when a part completes.
    // At most one refresh every 5 s however fast parts complete (the server computes them from the database).
    if (S.kpiTimer) return;
    const wait = Math.max(1200, 5000 - (Date.now() - (S.kpiAt || 0)));
    S.kpiTimer = setTimeout(() => { S.kpiTimer = null; S.kpiAt = Date.now(); resync("part completed"); }, wait);
  }

  function recordLatency(ev, frame, receivedAt) {
    const committed = ev.committed_at ? Date.parse(ev.committed_at) : null;
    const sent = ev.sent_at ? Date.parse(ev.sent_at) : null;
    requestAnimationFrame(() => {
      probe.latencies.push({
        seq: frame.seq, result_id: ev.result_id, committed_at: committed, sent_at: sent,
        published_at: frame.published_at, received_at: receivedAt, dom_at: Date.now(),
      });
      if (probe.latencies.length > 10000) probe.latencies.shift();
    });
  }

  // ---------------------------------------------------------------- derived states (recomputed every second)
  function deviceHealth(d) {
    const th = S.state.thresholds;
    if (!d.last_heartbeat_at) return "never_seen";
    const age = (serverNow() - Date.parse(d.last_heartbeat_at)) / 1000;
    return age <= th.device_stale_s ? "online" : age <= th.device_offline_s ? "stale" : "offline";
  }
  function stationState(s) {
    const st = S.state, th = st.thresholds;
    const fault = st.alarms.some((a) => a.station === s.code && a.rule !== "stale_device" && !a.cleared_at);
    const devicesStale = st.devices.length > 0 && st.devices.some((d) => deviceHealth(d) !== "online");
    const silent = st.cell_last_event_at && (serverNow() - Date.parse(st.cell_last_event_at)) / 1000 > th.device_offline_s;
    if (fault) return "fault";
    if ((s.inspection && devicesStale) || (s.part && silent)) return "stale";
    if (!s.part) return "idle";
    const dwell = (serverNow() - Date.parse(s.part.entered_at)) / 1000;
    return dwell > th.blocked_factor * st.cell.target_cycle_time_s ? "blocked" : "running";
  }

  // ---------------------------------------------------------------- rendering
  function renderAll() {
    renderTwin();
    renderKpis();
    renderAlarms();
    renderDevices();
    renderRecent();
    S.chartsDirty = true;
    renderCharts(true);
  }

  function renderTwin() {
    if (!S.state) return;
    for (const s of S.state.stations) {
      const v = s.last_verdict;
      Twin.update($("twin"), {
        code: s.code,
        state: stationState(s),
        part: s.part,
        dwell_s: s.part ? (serverNow() - Date.parse(s.part.entered_at)) / 1000 : null,
        verdict: v ? v.verdict : s.inspection ? null : s.last_outcome && s.last_outcome !== "in_progress" ? s.last_outcome : null,
        defect: v && v.verdict === "fail" && v.defect_class ? v.defect_class : "",
        bottleneck: s.code === S.state.bottleneck,
      });
    }
  }

  function renderKpis() {
    const k = S.state.kpis;
    $("kpi-throughput").textContent = num(k.throughput_per_h, 1);
    $("kpi-fpy").textContent = pct(k.first_pass_yield);
    $("kpi-fpy-count").textContent = k.first_pass_decided ? interpolate(gettext("%(ok)s of %(decided)s parts"), { ok: k.first_pass_ok, decided: k.first_pass_decided }, true) : gettext("no part decided yet");
    $("kpi-oee").textContent = pct(k.oee);
    $("kpi-a").textContent = pct(k.availability);
    $("kpi-p").textContent = pct(k.performance);
    $("kpi-q").textContent = pct(k.quality);
    // Above 100 % the cell ran faster than its target cycle: the figure is kept, and flagged, not capped.
    const fast = k.performance != null && k.performance > 1;
    $("kpi-oee-note").hidden = !fast;
    $("kpi-p").classList.toggle("over-target", fast);
    const target = k.target_cycle_time_s;
    for (const [id, v] of [["kpi-cycle-mean", k.cycle_mean_s], ["kpi-cycle-p95", k.cycle_p95_s]]) {
      // Coloured by the value shown: 15.04 s reads "15.0 s", which is not over a 15.0 s target.
      const shown = v == null ? null : tenths(v);
      $(id).textContent = shown == null ? "–" : `${decimal(shown, 1)} s`;
      $(id).classList.toggle("over-target", shown != null && shown > target);
    }
    $("kpi-completed").textContent = `${k.completed} · ${k.good}`;
    $("def-window").textContent = k.window_start ? interpolate(gettext("since %(start)s, %(planned)s min planned, %(run)s min run"), { start: time(k.window_start), planned: decimal(k.planned_s / 60, 0), run: decimal(k.run_s / 60, 0) }, true) : gettext("no part yet");
  }

  function renderAlarms() {
    const list = $("alarms");
    const alarms = S.state.alarms;
    const unacked = alarms.filter((a) => !a.acknowledged_at).length;
    const count = $("alarm-count");
    count.textContent = alarms.length;
    count.className = "badge " + (unacked ? "badge-bad" : alarms.length ? "badge-warn" : "badge-neutral");
    document.body.classList.toggle("andon-active", unacked > 0);
    list.textContent = "";
    if (!alarms.length) { list.append(h("li", { class: "muted" }, gettext("No active alarm."))); return; }
    for (const a of alarms) {
      const li = h("li", { class: "alarm" + (a.acknowledged_at ? " acked" : ""), "data-alarm-id": a.id },
        h("div", { class: "alarm-head" },
          h("span", { class: "badge " + (a.acknowledged_at ? "badge-warn" : "badge-bad") }, a.acknowledged_at ? gettext("ACK") : gettext("ALARM")),
          h("strong", {}, a.text || a.message)),
        h("div", { class: "muted small" }, interpolate(gettext("%(rule)s · raised %(at)s"), { rule: RULE_LABEL[a.rule] || a.rule_label, at: time(a.raised_at) }, true)),
        a.acknowledged_at ? h("div", { class: "small" }, interpolate(gettext("Acknowledged by %(who)s at %(at)s: “%(reason)s”"), { who: a.acknowledged_by, at: time(a.acknowledged_at), reason: a.ack_reason }, true)) : null);
      // An SPC alarm is acknowledged on its characteristic's page, with an assignable cause and a corrective action.
      if (a.rule === "spc") li.append(h("a", { href: `/spc/alarms/${a.id}/`, class: "small" }, gettext("Open the SPC chart to record cause and action")));
      else if (!a.acknowledged_at && cfg.canAck) li.append(ackForm(a));
      list.append(li);
    }
  }

  function ackForm(a) {
    const input = h("input", { type: "text", name: "reason", required: "required", placeholder: gettext("Reason / action taken"), "aria-label": gettext("Reason") });
    const error = h("div", { class: "error small" });
    const form = h("form", { class: "ack-form" }, input, h("button", { type: "submit", class: "primary" }, gettext("Acknowledge")), error);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const url = cfg.ackUrl.replace("/0/acknowledge/", `/${a.id}/acknowledge/`);
      try {
        const r = await fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
          body: JSON.stringify({ reason: input.value }),
        });
        const body = await r.json().catch(() => ({}));
        if (!r.ok) { error.textContent = body.detail || body.reason || `Refused (HTTP ${r.status})`; return; }
        applyEvent({ type: "alarm.acknowledged", alarm: body }, { seq: Seq.lastSeq }, Date.now());
      } catch (err) {
        error.textContent = interpolate(gettext("Not sent: %s"), [err.message]);
      }
    });
    return form;
  }

  function renderDevices() {
    const box = $("devices");
    const devices = S.state.devices;
    box.textContent = "";
    if (!devices.length) { box.append(h("p", { class: "muted" }, gettext("No edge device registered for this cell."))); return; }
    for (const d of devices) {
      const health = deviceHealth(d);
      const fresh = health === "online";
      const empty = (v) => v == null || (typeof v === "object" && !Object.keys(v).length);
      const reading = (v, fmt) => (!fresh ? gettext("stale") : empty(v) ? gettext("not measured") : fmt(v));
      const mem = (m) => (typeof m === "object" && m ? `${num(m.used_mb, 0)} / ${num(m.total_mb, 0)} MB` : `${num(m, 0)} MB`);
      const temp = (t) => (typeof t === "object" && t ? Object.entries(t).map(([k, v]) => `${k} ${num(v, 1)} °C`).join(", ") : `${num(t, 1)} °C`);
      const colour = { online: "ok", stale: "warn", offline: "bad", never_seen: "neutral" }[health];
      box.append(h("div", { class: "device" + (fresh ? "" : " is-stale"), "data-device-id": d.device_id, "data-health": health },
        h("div", { class: "device-head" }, h("strong", {}, d.device_id), h("span", { class: `badge badge-${colour}` }, HEALTH_LABEL[health] || health.replace("_", " "))),
        h("dl", { class: "device-grid" },
          h("dt", {}, gettext("Backend")), h("dd", {}, `${d.backend || "–"} · ${d.precision || "–"}`),
          h("dt", {}, gettext("Model")), h("dd", {}, d.model_version || "–"),
          h("dt", {}, "FPS"), h("dd", { class: "reading" }, reading(d.fps, (v) => num(v, 1))),
          h("dt", {}, gettext("Power")), h("dd", { class: "reading" }, reading(d.power_mw, (v) => `${num(v, 0)} mW`)),
          h("dt", {}, gettext("Memory")), h("dd", { class: "reading" }, reading(d.memory, mem)),
          h("dt", {}, gettext("Temperature")), h("dd", { class: "reading" }, reading(d.temperature, temp)),
          h("dt", {}, gettext("Last heartbeat")), h("dd", {}, `${ageText(d.last_heartbeat_at)}`))));
    }
  }

  function renderRecent() {
    const list = $("recent");
    list.textContent = "";
    if (!S.state.recent.length) { list.append(h("li", { class: "muted" }, gettext("No inspection yet."))); return; }
    for (const r of S.state.recent) {
      const colour = { pass: "ok", fail: "bad", error: "warn" }[r.verdict] || "neutral";
      list.append(h("li", { "data-result-id": r.result_id, class: "result" },
        r.image_url ? h("img", { src: r.image_url, alt: interpolate(gettext("inspection image of %s"), [r.serial]), loading: "lazy", width: 48, height: 48 }) : h("span", { class: "noimg" }),
        h("div", {},
          h("div", {}, h("span", { class: `badge badge-${colour}` }, VERDICT_BADGE[r.verdict] || r.verdict.toUpperCase()), " ",
            h("a", { href: `${cfg.replayUrl}?serial=${encodeURIComponent(r.serial)}` }, r.serial),
            r.review ? h("span", { class: "review-note small", title: interpolate(gettext("signed by %(who)s at %(at)s"), { who: r.review.signer, at: time(r.review.at) }, true) },
              " · " + interpolate(gettext("reviewed: %s"), [REVIEW_VERDICT[r.review.verdict] || r.review.verdict.replace("_", " ")]) + (r.review.disposition ? ` (${DISPOSITION[r.review.disposition] || r.review.disposition})` : "")) : ""),
          h("div", { class: "muted small" },
            `${r.station} · ${time(r.captured_at)}${r.defect_class ? ` · ${r.defect_class} ${num(100 * (r.defect_confidence || 0), 0)} %` : ""}${r.latency_ms != null ? ` · ${num(r.latency_ms, 0)} ms` : ""}`))));
    }
  }

  // ---------------------------------------------------------------- charts (Plotly, throttled to 1 Hz)
  const baseLayout = () => ({
    margin: { l: 48, r: 48, t: 8, b: 36 }, height: 205, font: { size: 12, family: "system-ui, sans-serif" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", showlegend: false,
  });
  const plotConfig = { displayModeBar: false, responsive: true, staticPlot: false };

  /** The charts in words, for screen readers (and anyone who cannot read a plot): each chart's figure points at
      its summary with aria-describedby. */
  function describeCharts(c, target) {
    const say = (id, text) => { const node = $(id); if (node && node.textContent !== text) node.textContent = text; };
    const cyc = c.cycle;
    if (cyc.length) {
      const mean = cyc.reduce((a, p) => a + p.cycle_s, 0) / cyc.length;
      const over = cyc.filter((p) => tenths(p.cycle_s) > target).length;
      say("chart-cycle-summary", interpolate(gettext("%(n)s parts; mean cycle %(mean)s s, last %(last)s s, target %(target)s s; %(over)s over the target."),
        { n: cyc.length, mean: decimal(mean, 1), last: decimal(cyc[cyc.length - 1].cycle_s, 1), target: decimal(target, 1), over: over }, true));
    } else say("chart-cycle-summary", gettext("No completed part in the window yet"));
    say("chart-pareto-summary", c.pareto.length
      ? c.pareto.map((p) => interpolate(gettext("%(defect)s: %(count)s NOK"), { defect: defectName(p.defect_class), count: p.count }, true)).join("; ")
      : gettext("No NOK in the window"));
    const pw = c.power.filter((p) => p.power_mw != null || p.fps != null);
    const last = pw[pw.length - 1];
    say("chart-power-summary", last
      ? interpolate(gettext("Latest reading: %(power)s mW, %(fps)s FPS."), { power: last.power_mw == null ? "–" : decimal(last.power_mw, 0), fps: last.fps == null ? "–" : decimal(last.fps, 1) }, true)
      : gettext("No reading yet"));
    const en = c.energy;
    say("chart-energy-summary", en.length
      ? interpolate(gettext("%(n)s parts; mean %(mean)s mJ per part."), { n: en.length, mean: decimal(en.reduce((a, p) => a + p.energy_mj, 0) / en.length, 0) }, true)
      : gettext("No energy measured yet"));
  }

  function renderCharts(force) {
    if (!S.state || typeof Plotly === "undefined") return;
    if (!S.chartsDirty) return;
    if (!force && Date.now() - S.chartsAt < 1000) return;
    S.chartsDirty = false;
    S.chartsAt = Date.now();
    const c = S.state.charts, target = S.state.cell.target_cycle_time_s;
    describeCharts(c, target);

    const cyc = c.cycle;
    Plotly.react("chart-cycle", [{
      x: cyc.map((p) => p.completed_at), y: cyc.map((p) => p.cycle_s), text: cyc.map((p) => p.serial), type: "scatter", mode: "lines+markers",
      marker: { color: cyc.map((p) => (tenths(p.cycle_s) > 1.2 * target ? "#b3261e" : tenths(p.cycle_s) > target ? "#a15c00" : "#0b5cad")), size: 6 },
      line: { color: "#9bb7d4", width: 1 }, hovertemplate: "%{text}: %{y:.1f} s<extra></extra>",
    }], {
      ...baseLayout(), yaxis: { title: { text: "s" }, rangemode: "tozero", automargin: true }, xaxis: { type: "date", visible: cyc.length > 0, tickformat: "%H:%M:%S", nticks: 5, automargin: true },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: target, y1: target, line: { color: "#137333", width: 2, dash: "dash" } }],
      annotations: [{ xref: "paper", x: 1, y: target, text: interpolate(gettext("target %s s"), [decimal(target, 1)]), showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#137333" } },
        ...(cyc.length ? [] : [{ text: gettext("No completed part in the window yet"), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.35 }])],
    }, plotConfig);

    // Horizontal bars, most frequent on top: the defect names stay whole and level at any width (a column per
    // class leaves about 40 px per name on a tablet).
    const total = c.pareto.reduce((a, p) => a + p.count, 0);
    const classes = c.pareto.map((p) => defectName(p.defect_class));
    let run = 0;
    Plotly.react("chart-pareto", [
      { y: classes, x: c.pareto.map((p) => p.count), type: "bar", orientation: "h", marker: { color: "#b3261e" }, name: gettext("count"), hovertemplate: "%{y}: %{x} NOK<extra></extra>" },
      { y: classes, x: c.pareto.map((p) => ((run += p.count), (100 * run) / total)), type: "scatter", mode: "lines+markers", xaxis: "x2", line: { color: "#14191f" }, name: gettext("cumulative %"), hovertemplate: "%{y}: %{x:.0f} % " + gettext("cumulative") + "<extra></extra>" },
    ], { ...baseLayout(), height: Math.max(205, 70 + 22 * classes.length), margin: { l: 8, r: 16, t: 30, b: 36 },
      yaxis: { type: "category", autorange: "reversed", automargin: true, ticksuffix: " ", visible: total > 0 },
      xaxis: { title: { text: "NOK", standoff: 4 }, rangemode: "tozero", tickformat: ",d", dtick: total && c.pareto[0].count <= 10 ? 1 : null, automargin: true, visible: total > 0 },
      xaxis2: { overlaying: "x", side: "top", range: [0, 105], tickvals: [0, 25, 50, 75, 100], ticktext: ["0 %", "25 %", "50 %", "75 %", "100 %"], showgrid: false, automargin: true, visible: total > 0 },
      annotations: total ? [] : [{ text: gettext("No NOK in the window"), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }, plotConfig);

    const pw = c.power;
    const hasPower = pw.some((p) => p.power_mw != null);
    Plotly.react("chart-power", [
      { x: pw.map((p) => p.at), y: pw.map((p) => p.power_mw), type: "scatter", mode: "lines+markers", marker: { size: 4 }, name: "power (mW)", line: { color: "#a15c00" } },
      { x: pw.filter((p) => p.fps != null).map((p) => p.at), y: pw.filter((p) => p.fps != null).map((p) => p.fps), type: "scatter", mode: "lines+markers", marker: { size: 4 }, name: "FPS", yaxis: "y2", line: { color: "#0b5cad" } },
    ], { ...baseLayout(), margin: { l: 48, r: 48, t: 26, b: 36 }, showlegend: hasPower, legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" }, xaxis: { type: "date", tickformat: "%H:%M:%S", nticks: 5, automargin: true }, yaxis: { title: { text: "mW" }, rangemode: "tozero", visible: hasPower, automargin: true },
      // automargin: the tick labels push the axis title out instead of running into it
      yaxis2: { title: { text: "FPS", standoff: 6 }, overlaying: "y", side: "right", rangemode: "tozero", tickmode: "auto", nticks: 5, tickformat: "~r", automargin: true },
      annotations: hasPower ? [] : [{ text: pw.length ? gettext("FPS · power not measured on this device") : gettext("No reading yet"), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: pw.length ? 1 : 0.5, yanchor: pw.length ? "bottom" : "middle" }] }, plotConfig);

    const en = c.energy.slice(-60);
    Plotly.react("chart-energy", [{ x: en.map((p) => p.serial), y: en.map((p) => p.energy_mj), type: "bar", marker: { color: "#5b6670" }, hovertemplate: "%{x}: %{y:.0f} mJ<extra></extra>" }],
      // No energy: no axes either, only the note (empty ticks would run into it and say nothing).
      { ...baseLayout(), xaxis: { type: "category", visible: en.length > 0, showticklabels: en.length <= 6, title: { text: en.length > 6 ? interpolate(gettext("last %s parts (hover for serials)"), [en.length]) : "" }, automargin: true }, yaxis: { title: { text: "mJ" }, rangemode: "tozero", visible: en.length > 0, automargin: true },
        annotations: en.length ? [] : [{ text: pw.length && !hasPower ? gettext("not measured: the edge device reports no power") : gettext("No energy measured yet"), showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }, plotConfig);
  }

  // ---------------------------------------------------------------- clock: derived states, watchdog, charts
  setInterval(() => {
    $("server-clock").textContent = new Date(serverNow()).toLocaleTimeString(LOCALE, { hour12: false });
    if (S.ws && S.ws.readyState === WebSocket.OPEN && S.lastFrameAt && Date.now() - S.lastFrameAt > HEARTBEAT_TIMEOUT_MS) {
      S.ws.close(); // half-open socket: no heartbeat; onclose reconnects
    }
    if (!S.state) return;
    renderTwin();
    renderDevices();
    renderCharts(false);
  }, 1000);

  window.addEventListener("online", () => { if (!S.ws && !S.stopped) connect(); });
  connect();
})();
