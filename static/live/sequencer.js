/* TwinWeb live view: puts a cell stream's snapshots and events in sequence order. No DOM: live.js hands it what
   arrives (the snapshot the socket pushes on connect, snapshots re-fetched from GET stateUrl, events) and it calls
   back with what to apply, in order. tests/live/test_live_sequencer.py drives it in headless Chromium.

   - Snapshots may land out of order: after a reconnect the pushed one and a fetched one race, and a fetch can be
     slower than the events that follow it. A snapshot older than the one already applied (lower seq) is dropped;
     an applied one is followed by the kept events newer than it, in seq order.
   - An event at or below the last applied seq is already in what is shown: dropped. Others are applied at once
     (the page stays live while a fetch is on its way) and kept, so they can be applied again on top of a
     snapshot older than them.
   - restart() starts a new epoch (reconnect, sequence reset, event bus back): the numbers may have started again,
     so events are only kept until a snapshot of the new epoch is applied, and a fetch begun in an older epoch is
     dropped when it lands. */
(function (root) {
  "use strict";
  const KEEP_MAX = 2000; // events kept for re-applying; a snapshot older than all of them shows as a gap

  function create(handlers) {
    const S = { epoch: 0, baseSeq: null, lastSeq: 0, kept: [], ready: false };

    function keep(frame) {
      S.kept.push(frame);
      if (S.kept.length > KEEP_MAX) S.kept.splice(0, S.kept.length - KEEP_MAX);
    }

    return {
      get epoch() { return S.epoch; },
      get lastSeq() { return S.lastSeq; },
      /** seq of the snapshot shown (null: none in this epoch, or the event bus was down when it was read) */
      get baseSeq() { return S.baseSeq; },

      restart() {
        S.epoch += 1;
        S.baseSeq = null;
        S.ready = false;
        S.kept = [];
      },

      /** Returns {applied, gap, replayed, dropped}: dropped says why a snapshot was not applied; gap, that the
          kept events re-applied on top of it skip a number (fetch again). */
      snapshot(state, epoch) {
        if (epoch != null && epoch !== S.epoch) return { applied: false, dropped: "fetched before the stream restarted" };
        const seq = state.seq;
        if (seq != null && S.baseSeq != null && seq < S.baseSeq) {
          return { applied: false, dropped: `seq ${seq} is older than the snapshot shown (seq ${S.baseSeq})` };
        }
        handlers.snapshot(state);
        S.ready = true;
        if (seq == null) return { applied: true, gap: false, replayed: 0 }; // event bus down: the database answered
        S.baseSeq = seq;
        S.lastSeq = seq;
        const newer = S.kept.filter((f) => f.seq > seq).sort((a, b) => a.seq - b.seq);
        S.kept = newer.slice();
        let gap = false, replayed = 0;
        for (const f of newer) {
          if (f.seq <= S.lastSeq) continue; // the same event twice
          if (f.seq !== S.lastSeq + 1) gap = true;
          S.lastSeq = f.seq;
          handlers.event(f, null);
          replayed += 1;
        }
        return { applied: true, gap, replayed };
      },

      /** Returns {applied, gap, kept}: kept alone means no snapshot of this epoch is applied yet. */
      event(frame, receivedAt) {
        if (!S.ready) { keep(frame); return { applied: false, gap: false, kept: true }; }
        if (frame.seq <= S.lastSeq) return { applied: false, gap: false, kept: false };
        const gap = frame.seq !== S.lastSeq + 1;
        S.lastSeq = frame.seq;
        keep(frame);
        handlers.event(frame, receivedAt);
        return { applied: true, gap, kept: true };
      },
    };
  }

  root.LiveSequencer = { create, KEEP_MAX };
})(typeof window !== "undefined" ? window : globalThis);
