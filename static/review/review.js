/* Debug Mode step-through: "press Enter, analyse, press Enter".
 *
 * A case is a part: one step per finding of every station that flagged it (zoomed crop of that station's image
 * with its overlay), then the verdict, a reason where one is needed, and the signature. Fully keyboard usable:
 * Enter next, Backspace back, Esc twice cancel, digits choose, +/- zoom, [ ] brightness, R reset. A signed
 * decision is kept in localStorage (without the password) and resent with its idempotency key until the server
 * answers, so a lost connection never loses it.
 *
 * The claim is renewed only while the operator works: at most once per interval, and only after a key press or
 * a touch since the last renewal. An idle tablet lets the claim lapse; the page then says so and offers to claim
 * the case again (a verdict needs a live claim).
 * Vanilla JS, no build step.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("case-data").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var canvas = document.getElementById("dm-canvas");
  var ctx = canvas.getContext("2d");
  var thumb = document.getElementById("dm-thumb");
  var tctx = thumb.getContext("2d");
  var stepEl = document.getElementById("dm-step");
  var statusEl = document.getElementById("dm-status");
  var cobotEl = document.getElementById("dm-cobot");
  var progressEl = document.getElementById("dm-progress");
  var backBtn = document.getElementById("dm-back");
  var nextBtn = document.getElementById("dm-next");
  var PENDING_KEY = "twinweb.debug.pending." + data.resultId;

  // One image per inspection: each finding is seen on its own station's image.
  var images = {};
  function imageOf(url) {
    if (!url) return null;
    if (!images[url]) {
      var im = new Image();
      im.onload = function () { draw(); };
      im.src = url;
      images[url] = im;
    }
    return images[url];
  }
  var img = null;
  var state = {
    index: 0, zoom: 1, brightness: 1, contrast: 1,
    choice: null, reason: null, note: "", key: null, credential: "",
    sending: false, done: null, escArmed: 0, lastViewSent: -1,
  };
  var lapsedBox = null;  // shown above every step once the claim has lapsed

  // --- steps -------------------------------------------------------------------------------------------
  function needsReason() {
    if (!state.choice) return false;
    if (state.choice.verdict === "override_ok") return true;
    return state.choice.verdict === "confirm_nok" && data.needsDefectCode;
  }
  function reasonOptions() {
    if (!state.choice) return [];
    return state.choice.verdict === "override_ok" ? data.overrideReasons : data.defectCodes;
  }
  function steps() {
    var list = data.findings.map(function (f, i) { return { type: "finding", finding: f, i: i }; });
    list.push({ type: "verdict" });
    if (needsReason()) list.push({ type: "reason" });
    list.push({ type: "sign" });
    list.push({ type: "done" });
    return list;
  }
  function current() { return steps()[state.index]; }

  // --- helpers -----------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits === undefined ? 3 : digits); }
  function say(text, kind) {
    statusEl.textContent = text || "";
    statusEl.className = "dm-status" + (kind ? " dm-status-" + kind : "");
  }
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
  }

  // --- image -------------------------------------------------------------------------------------------
  function cropFor(step) {
    var W = (img && img.naturalWidth) || 512, H = (img && img.naturalHeight) || 512;
    var box = step && step.finding && step.finding.bbox && step.finding.bbox.length === 4 ? step.finding.bbox : null;
    var cx, cy, side;
    if (box) {
      cx = box[0] + box[2] / 2; cy = box[1] + box[3] / 2;
      side = Math.max(64, Math.max(box[2], box[3]) * 1.6);
    } else {
      cx = W / 2; cy = H / 2; side = Math.max(W, H);
    }
    side = side / state.zoom;
    return { x: cx - side / 2, y: cy - side / 2, side: side };
  }

  function draw() {
    var step = current();
    var C = canvas.width;
    ctx.save();
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, C, C);
    var url = step.type === "finding" ? (step.finding.imageUrl || data.imageUrl) : data.imageUrl;
    img = imageOf(url);
    if (!img || !img.complete || !img.naturalWidth) { ctx.restore(); return; }
    // A finding step zooms on its finding; the verdict and signing steps show the whole part with every finding.
    var crop = cropFor(step.type === "finding" ? step : null);
    var s = C / crop.side;
    var map = function (x, y) { return [(x - crop.x) * s, (y - crop.y) * s]; };
    ctx.filter = "brightness(" + state.brightness + ") contrast(" + state.contrast + ")";
    ctx.imageSmoothingEnabled = state.zoom < 2;
    ctx.drawImage(img, crop.x, crop.y, crop.side, crop.side, 0, 0, C, C);
    ctx.filter = "none";
    if (step.type === "finding") overlay(step.finding, map, s);
    else data.findings.forEach(function (f) { if ((f.imageUrl || data.imageUrl) === url) overlay(f, map, s); });
    ctx.restore();
    drawThumb(crop);
  }

  function overlay(f, map, s) {
    ctx.lineWidth = 3;
    var box = f.bbox && f.bbox.length === 4 ? f.bbox : null;
    if (f.kind === "dimension") {
      var g = f.geometry || {};
      if (g.type === "circle" && g.center) {
        var c = map(g.center[0], g.center[1]);
        // Tolerance band: the limits drawn at the measured circle's scale (px per mm from the measurement).
        if (f.value && f.lower_limit !== null && f.upper_limit !== null) {
          var pxPerUnit = g.radius / (f.value / 2);
          ctx.setLineDash([8, 6]); ctx.strokeStyle = "#4cd964";
          [f.lower_limit, f.upper_limit].forEach(function (lim) {
            ctx.beginPath(); ctx.arc(c[0], c[1], lim / 2 * pxPerUnit * s, 0, 2 * Math.PI); ctx.stroke();
          });
          ctx.setLineDash([]);
        }
        ctx.strokeStyle = "#ff4d4d"; ctx.beginPath(); ctx.arc(c[0], c[1], g.radius * s, 0, 2 * Math.PI); ctx.stroke();
        ctx.fillStyle = "#ff4d4d"; ctx.beginPath(); ctx.arc(c[0], c[1], 4, 0, 2 * Math.PI); ctx.fill();
      } else if (g.points && g.points.length) {
        ctx.strokeStyle = "#ff4d4d"; ctx.beginPath();
        g.points.forEach(function (p, i) { var q = map(p[0], p[1]); if (i) ctx.lineTo(q[0], q[1]); else ctx.moveTo(q[0], q[1]); });
        if (g.type === "polygon") ctx.closePath();
        ctx.stroke();
      } else if (box) {
        strokeBox(box, map, "#ff4d4d");
      }
    } else if (f.kind === "defect" && box) {
      strokeBox(box, map, "#ffd400");
      var p = map(box[0], box[1]);
      var label = f.defect_class + " " + fmt(f.confidence, 2);
      ctx.font = "bold 22px system-ui, sans-serif";
      var w = ctx.measureText(label).width + 12;
      ctx.fillStyle = "#ffd400"; ctx.fillRect(Math.max(0, p[0]), Math.max(0, p[1] - 30), w, 28);
      ctx.fillStyle = "#000"; ctx.fillText(label, Math.max(0, p[0]) + 6, Math.max(0, p[1] - 30) + 21);
    }
  }
  function strokeBox(box, map, colour) {
    var a = map(box[0], box[1]), b = map(box[0] + box[2], box[1] + box[3]);
    ctx.setLineDash([10, 6]); ctx.strokeStyle = colour; ctx.strokeRect(a[0], a[1], b[0] - a[0], b[1] - a[1]); ctx.setLineDash([]);
  }
  function drawThumb(crop) {
    var T = thumb.width, W = img.naturalWidth || 512;  // only called once img has loaded
    tctx.fillStyle = "#000"; tctx.fillRect(0, 0, T, T);
    tctx.drawImage(img, 0, 0, T, T);
    tctx.strokeStyle = "#ffd400"; tctx.lineWidth = 2;
    tctx.strokeRect(crop.x * T / W, crop.y * T / W, crop.side * T / W, crop.side * T / W);
  }

  // --- panels ------------------------------------------------------------------------------------------
  function renderProgress() {
    progressEl.textContent = "";
    steps().forEach(function (s, i) {
      var label = s.type === "finding" ? String(i + 1) : s.type === "verdict" ? gettext("Verdict") : s.type === "reason" ? gettext("Reason") : s.type === "sign" ? gettext("Sign") : gettext("Done");
      var li = el("li", { text: label, class: i === state.index ? "now" : i < state.index ? "past" : "" });
      if (i === state.index) li.setAttribute("aria-current", "step");
      progressEl.appendChild(li);
    });
  }

  function toleranceBar(f) {
    // Limits in the middle third of the bar; the value marker clamps to the ends when far outside.
    var lo = f.lower_limit, hi = f.upper_limit, v = f.value, span = (hi - lo) || 1;
    var pos = v === null || v === undefined ? null : Math.max(0, Math.min(100, ((v - lo) / span) * 33.3 + 33.3));
    var bar = el("div", { class: "dm-tol", role: "img", "aria-label": gettext("value against the tolerance band") }, [el("div", { class: "dm-tol-band" })]);
    if (pos !== null) bar.appendChild(el("div", { class: "dm-tol-value", style: "left:" + pos + "%" }));
    return bar;
  }

  function renderFinding(s) {
    var f = s.finding, n = data.findings.length;
    var children = [el("p", { class: "dm-kicker", text: interpolate(gettext("Finding %(i)s of %(n)s"), { i: s.i + 1, n: n }, true) + (f.station ? " · " + interpolate(gettext("%s station"), [f.station]) : "") })];
    if (f.kind === "dimension") {
      var dev = null;
      if (f.value !== null && f.value !== undefined) dev = f.value > f.upper_limit ? f.value - f.upper_limit : f.value < f.lower_limit ? f.value - f.lower_limit : 0;
      children.push(el("h2", { text: f.name.replace(/_/g, " ") }));
      children.push(el("dl", { class: "dm-facts" }, [
        el("dt", { text: gettext("Measured") }), el("dd", { class: "dm-value dm-bad", text: fmt(f.value) + " " + f.unit }),
        el("dt", { text: gettext("Tolerance") }), el("dd", { text: fmt(f.lower_limit) + " – " + fmt(f.upper_limit) + " " + f.unit + " (" + interpolate(gettext("nominal %s"), [fmt(f.nominal)]) + ")" }),
        el("dt", { text: gettext("Outside by") }), el("dd", { class: "dm-bad", text: dev === null ? gettext("not measured") : (dev > 0 ? "+" : "") + fmt(dev) + " " + f.unit }),
      ]));
      children.push(toleranceBar(f));
      children.push(el("p", { class: "dm-legend", text: gettext("Red: measured edge. Green dashed: tolerance limits.") }));
    } else {
      var conf = f.confidence;
      children.push(el("h2", { text: f.title || interpolate(gettext("Defect: %s"), [f.defect_class.replace(/_/g, " ")]) }));
      children.push(el("dl", { class: "dm-facts" }, [
        el("dt", { text: gettext("Model confidence") }), el("dd", { class: "dm-value", text: conf === null || conf === undefined ? gettext("not available") : Math.round(conf * 100) + " %" }),
      ]));
      if (conf !== null && conf !== undefined) {
        children.push(el("div", { class: "dm-conf", role: "img", "aria-label": "confidence " + Math.round(conf * 100) + " percent" }, [el("div", { style: "width:" + Math.round(conf * 100) + "%" })]));
      }
      if (f.top_classes && f.top_classes.length) {
        children.push(el("p", { class: "dm-muted", text: gettext("Top classes:") + " " + f.top_classes.map(function (c) { return c[0] + " " + Math.round(c[1] * 100) + "%"; }).join(" · ") }));
      }
    }
    if (f.detail) children.push(el("p", { class: "dm-muted", text: f.detail }));
    return children;
  }

  function optionButton(digit, label, selected, onPick) {
    var b = el("button", { type: "button", class: "dm-option" + (selected ? " selected" : ""), "aria-pressed": selected ? "true" : "false" },
      [el("kbd", { text: String(digit) }), " " + label]);
    b.addEventListener("click", onPick);
    return b;
  }

  function renderVerdict() {
    var children = [el("h2", { text: gettext("Your verdict") }), el("p", { class: "dm-muted", text: gettext("Machine:") + " " + data.machineVerdict + (data.machineReason ? " — " + data.machineReason : "") })];
    var list = el("div", { class: "dm-options" });
    data.choices.forEach(function (c, i) {
      list.appendChild(optionButton(i + 1, c.label, state.choice === c, function () { pickChoice(i); }));
    });
    children.push(list);
    if (data.fourEyes && data.choices.some(function (c) { return c.verdict === "override_ok"; })) {
      children.push(el("p", { class: "dm-muted", text: gettext("Four-eyes part: an override to OK needs a second person's countersignature.") }));
    }
    return children;
  }

  function renderReason() {
    var override = state.choice.verdict === "override_ok";
    var children = [el("h2", { text: override ? gettext("Why is the machine wrong?") : gettext("Which defect did you find?") })];
    var list = el("div", { class: "dm-options dm-reasons" });
    reasonOptions().forEach(function (r, i) {
      list.appendChild(optionButton(i + 1, r.label, state.reason === r.code, function () { pickReason(i); }));
    });
    children.push(list);
    var note = el("textarea", { id: "dm-note", rows: "2", placeholder: gettext("Note (optional; required for 'Other'). Enter continues, Shift+Enter new line.") });
    note.value = state.note;
    note.addEventListener("input", function () { state.note = note.value; });
    children.push(el("label", { for: "dm-note", text: gettext("Note") }));
    children.push(note);
    return children;
  }

  function summary() {
    var parts = [state.choice.label];
    if (state.reason) {
      var r = reasonOptions().filter(function (o) { return o.code === state.reason; })[0];
      parts.push(r ? r.label : state.reason);
    }
    if (state.note) parts.push("“" + state.note + "”");
    return parts.join(" · ");
  }

  function renderSign() {
    var children = [el("h2", { text: gettext("Sign your verdict") }), el("p", { class: "dm-summary", text: summary() })];
    children.push(el("p", { class: "dm-meaning", text: interpolate(gettext("By signing, I, %(name)s, confirm I reviewed the evidence of %(serial)s and decided this verdict."), { name: data.username, serial: data.serial }, true) }));
    var input = el("input", { id: "dm-credential", type: "password", autocomplete: "current-password", "aria-label": gettext("Your password or PIN") });
    input.value = state.credential;
    input.addEventListener("input", function () { state.credential = input.value; });
    children.push(el("label", { for: "dm-credential", text: gettext("Your password or PIN") }));
    children.push(input);
    return children;
  }

  function renderDone() {
    var r = state.done || {};
    var text = r.status === "awaiting_countersign" ? gettext("Signed. The override waits for a second person's countersignature; the cobot holds the part.") : gettext("Signed and applied. The cobot moves the part:") + " " + (state.choice ? state.choice.disposition : "") + ".";
    return [el("h2", { text: gettext("Done") }), el("p", { class: "dm-summary", text: text }),
      el("p", { class: "dm-muted", text: interpolate(gettext("Review time %(time)s. Signed content sha256 %(hash)s…"), { time: r.review_seconds !== undefined ? r.review_seconds + " s" : "–", hash: (r.content_sha256 || "").slice(0, 16) }, true) })];
  }

  function render() {
    var s = current();
    renderProgress();
    stepEl.textContent = "";
    var children = s.type === "finding" ? renderFinding(s) : s.type === "verdict" ? renderVerdict() : s.type === "reason" ? renderReason() : s.type === "sign" ? renderSign() : renderDone();
    children.forEach(function (c) { stepEl.appendChild(c); });
    if (lapsedBox && s.type !== "done") stepEl.insertBefore(lapsedBox, stepEl.firstChild);
    backBtn.disabled = state.index === 0 || s.type === "done" || state.sending;
    nextBtn.innerHTML = "";
    nextBtn.appendChild(document.createTextNode((s.type === "sign" ? gettext("Sign") : s.type === "done" ? gettext("Next case") : gettext("Next")) + " "));
    nextBtn.appendChild(el("kbd", { text: "Enter" }));
    nextBtn.classList.toggle("dm-sign", s.type === "sign");
    draw();
    if (s.type === "finding" && state.lastViewSent !== s.i) presentView(s);
    if (s.type === "sign") document.getElementById("dm-credential").focus();
    else if (s.type !== "reason") nextBtn.focus();
  }

  // --- actions -----------------------------------------------------------------------------------------
  function presentView(s) {
    state.lastViewSent = s.i;
    post(data.urls.view, { index: s.i, kind: s.finding.kind, name: s.finding.name, bbox: s.finding.bbox || [] })
      .then(function (r) { cobotEl.textContent = r.ok ? interpolate(gettext("Cobot: presenting finding %s."), [s.i + 1]) : interpolate(gettext("Cobot: view not sent (%s)."), [r.status]); })
      .catch(function () { cobotEl.textContent = gettext("Cobot not reached (offline); the review goes on."); });
  }

  function pickChoice(i) {
    state.choice = data.choices[i];
    state.reason = null;
    say("");
    render();
  }
  function pickReason(i) {
    var o = reasonOptions()[i];
    if (!o) return;
    state.reason = o.code;
    say("");
    render();
  }

  function next() {
    var s = current();
    if (state.sending) return;
    if (s.type === "verdict" && !state.choice) { say(interpolate(gettext("Choose a verdict: press 1 to %s."), [data.choices.length]), "bad"); return; }
    if (s.type === "reason") {
      if (!state.reason) { say(gettext("Choose a reason: press its digit."), "bad"); return; }
      if (state.reason === "other" && !state.note.trim()) { say(gettext("Reason 'Other' needs a note."), "bad"); document.getElementById("dm-note").focus(); return; }
    }
    if (s.type === "sign") { submit(); return; }
    if (s.type === "done") { document.getElementById("dm-next-case").submit(); return; }
    state.index = Math.min(state.index + 1, steps().length - 1);
    if (current().type === "sign" && !state.key) state.key = uuid4();
    say("");
    render();
  }
  function back() {
    if (state.sending || state.index === 0 || current().type === "done") return;
    state.index -= 1;
    say("");
    render();
  }
  function cancel() {
    if (state.sending || current().type === "done") return;
    var now = Date.now();
    if (now - state.escArmed > 3000) {
      state.escArmed = now;
      say(gettext("Press Esc again to cancel this review and put the case back in the queue."), "warn");
      return;
    }
    post(data.urls.release, {}).finally(function () { window.location.href = data.urls.queue; });
  }

  function decision() {
    return {
      verdict: state.choice.verdict, disposition: state.choice.disposition, reason_code: state.reason || "",
      note: state.note, idempotency_key: state.key, inspections: data.inspections,
    };
  }

  function submit() {
    if (!state.credential) { say(gettext("Enter your password or PIN to sign."), "bad"); return; }
    var body = decision();
    // Kept on the tablet (never the password) until the server has it.
    try { localStorage.setItem(PENDING_KEY, JSON.stringify({ decision: body, choice: state.choice, savedAt: new Date().toISOString() })); } catch (e) { /* private mode */ }
    state.sending = true;
    say(gettext("Signing…"));
    send(body, 0);
  }

  function send(body, attempt) {
    var payload = Object.assign({ credential: state.credential }, body);
    post(data.urls.sign, payload).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) { return { status: r.status, json: json }; });
    }).then(function (res) {
      if (res.status === 200 || res.status === 201) {
        try { localStorage.removeItem(PENDING_KEY); } catch (e) { /* ignore */ }
        state.sending = false; state.credential = ""; state.done = res.json;
        cobotEl.textContent = res.json.status === "awaiting_countersign" ? gettext("Cobot: holding the part.") : interpolate(gettext("Cobot: moving the part (%s)."), [state.choice.disposition]);
        state.index = steps().length - 1;
        say(res.status === 200 ? gettext("Already recorded: this decision reached the server before.") : gettext("Verdict signed."), "ok");
        render();
      } else if (res.status >= 500) {
        retry(body, attempt, interpolate(gettext("The server did not answer properly (%s)."), [res.status]));
      } else {
        // Refused (wrong password, already reviewed, claim taken or lapsed): nothing was recorded; say why.
        // A wrong password or a lapsed claim keeps the decision on the tablet, to sign again.
        var lapsedClaim = res.json && res.json.code === "claim_lapsed";
        state.sending = false;
        if (res.status !== 403 && !lapsedClaim) { try { localStorage.removeItem(PENDING_KEY); } catch (e) { /* ignore */ } }
        state.credential = "";
        render();
        say((res.json && res.json.detail) || interpolate(gettext("Refused (%s)."), [res.status]), "bad");
        if (lapsedClaim) claimLapsed(res.json.detail);
      }
    }).catch(function () {
      retry(body, attempt, gettext("Connection lost."));
    });
  }

  function retry(body, attempt, why) {
    var delay = Math.min(15000, 1000 * Math.pow(2, attempt));
    say(why + " Your signed decision is kept on this tablet and will be sent again in " + Math.round(delay / 1000) + " s.", "warn");
    setTimeout(function () { send(body, attempt + 1); }, delay);
  }

  function restorePending() {
    var raw = null;
    try { raw = localStorage.getItem(PENDING_KEY); } catch (e) { return; }
    if (!raw) return;
    try {
      var p = JSON.parse(raw);
      var kept = (p.decision.inspections || []).slice().sort().join(" ");
      if (p.decision.inspections && kept !== data.inspections.slice().sort().join(" ")) {
        // A station reported again since that decision was signed: it covered other evidence. Review it anew.
        localStorage.removeItem(PENDING_KEY);
        say(interpolate(gettext("New evidence arrived for %s since your earlier decision, which was not recorded: review it again."), [data.serial]), "warn");
        return;
      }
      state.choice = data.choices.filter(function (c) { return c.verdict === p.decision.verdict && c.disposition === p.decision.disposition; })[0] || null;
      if (!state.choice) return;
      state.reason = p.decision.reason_code || null;
      state.note = p.decision.note || "";
      state.key = p.decision.idempotency_key;
      state.index = steps().length - 2;
      say("A decision you signed earlier was not confirmed by the server. Re-enter your password or PIN to send it again.", "warn");
    } catch (e) { /* a broken entry: ignore it */ }
  }

  // --- image controls ----------------------------------------------------------------------------------
  function imageAct(act) {
    if (act === "zoom-in") state.zoom = Math.min(6, state.zoom * 1.4);
    else if (act === "zoom-out") state.zoom = Math.max(0.5, state.zoom / 1.4);
    else if (act === "brighter") state.brightness = Math.min(3, state.brightness + 0.2);
    else if (act === "darker") state.brightness = Math.max(0.2, state.brightness - 0.2);
    else if (act === "reset") { state.zoom = 1; state.brightness = 1; state.contrast = 1; }
    draw();
  }
  document.querySelectorAll(".dm-tools [data-act]").forEach(function (b) {
    b.addEventListener("click", function () { imageAct(b.getAttribute("data-act")); });
  });

  // --- keyboard ----------------------------------------------------------------------------------------
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target, typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA");
    var s = current();
    if (e.key === "Enter") {
      if (t && t.tagName === "TEXTAREA" && e.shiftKey) return;
      if (t && t.tagName === "BUTTON" && t !== nextBtn) return; // a focused option or tool: Enter clicks it
      e.preventDefault(); next(); return;
    }
    if (e.key === "Escape") { e.preventDefault(); cancel(); return; }
    if (e.key === "Backspace") {
      if (typing && t.value) return; // deleting text
      e.preventDefault(); back(); return;
    }
    if (typing) return;
    if (/^[1-9]$/.test(e.key)) {
      var n = parseInt(e.key, 10) - 1;
      if (s.type === "verdict" && n < data.choices.length) { e.preventDefault(); pickChoice(n); }
      else if (s.type === "reason" && n < reasonOptions().length) { e.preventDefault(); pickReason(n); }
      return;
    }
    if (e.key === "ArrowRight") { e.preventDefault(); next(); return; }
    if (e.key === "ArrowLeft") { e.preventDefault(); back(); return; }
    if (e.key === "+" || e.key === "=") imageAct("zoom-in");
    else if (e.key === "-") imageAct("zoom-out");
    else if (e.key === "]") imageAct("brighter");
    else if (e.key === "[") imageAct("darker");
    else if (e.key === "r" || e.key === "R") imageAct("reset");
  });
  nextBtn.addEventListener("click", next);
  backBtn.addEventListener("click", back);

  // --- the claim ---------------------------------------------------------------------------------------
  // Renewed only while the operator works: a key press or a touch since the last renewal. An idle tablet lets
  // the claim lapse, so a case is never held by a page nobody looks at.
  var claimExpiresAt = Date.now() + data.claimExpiresInS * 1000;  // on this tablet's clock
  var lastActivity = 0, lastRenewal = Date.now(), lapsed = false;
  ["keydown", "pointerdown", "touchstart", "input"].forEach(function (type) {
    document.addEventListener(type, function () { lastActivity = Date.now(); }, { capture: true, passive: true });
  });

  function claimLapsed(detail) {
    if (lapsed) return;
    lapsed = true;
    var box = lapsedBox = el("div", { class: "dm-lapsed", role: "alert" }, [
      el("p", { text: detail || interpolate(gettext("Your claim on %(serial)s lapsed after %(min)s min without activity: someone else may take the case, and a verdict needs a live claim."), { serial: data.serial, min: Math.round(data.claimTtlS / 60) }, true) }),
    ]);
    var again = el("button", { type: "button", class: "dm-big primary", id: "dm-reclaim-button", text: gettext("Claim it again") });
    again.addEventListener("click", function () { document.getElementById("dm-reclaim").submit(); });
    box.appendChild(again);
    stepEl.insertBefore(box, stepEl.firstChild);
    say(gettext("Your claim has lapsed."), "warn");
  }

  setInterval(function () {
    if (lapsed || state.sending || current().type === "done") return;
    if (lastActivity <= lastRenewal) {
      if (Date.now() >= claimExpiresAt) claimLapsed();
      return;
    }
    lastRenewal = Date.now();
    post(data.urls.renew, {}).then(function (r) {
      if (r.status === 409) { claimLapsed(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (json) {
      if (json && json.expires_in_s !== undefined) claimExpiresAt = Date.now() + json.expires_in_s * 1000;
    }).catch(function () { /* offline: the decision queue covers it */ });
  }, Math.max(10, Math.min(60, data.claimTtlS / 3)) * 1000);

  window.addEventListener("online", function () { say(gettext("Connection is back."), "ok"); });

  imageOf(data.imageUrl);
  data.findings.forEach(function (f) { imageOf(f.imageUrl); });
  restorePending();
  render();
})();
