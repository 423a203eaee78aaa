"""The live page's sequencer (static/live/sequencer.js), run in headless Chromium: which snapshot and which events
are applied, in which order, when snapshots from the socket and from GET /api/cells/<id>/state/ race.

Each scenario feeds it snapshots and events; a snapshot with seq n stands for the cell after events 1..n, so the
page shows the truth exactly when what it applied, in order, is 1..lastSeq."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import browser as chromium
from tests.support import processes

pytestmark = chromium.requires_chromium
SEQUENCER = processes.ROOT / "static" / "live" / "sequencer.js"

# Steps: ("snapshot", seq) read in the current epoch; ("snapshot", seq, "marked") read in the epoch saved by the
# last ("mark",); ("event", seq); ("restart",). Returns what was applied and each step's answer.
RUN = """(steps) => {
  const shown = { items: [] }, applied = [], answers = [];
  const seq = LiveSequencer.create({
    snapshot: (state) => { shown.items = Array.from({ length: state.seq }, (_, i) => i + 1); applied.push(`snapshot ${state.seq}`); },
    event: (frame, receivedAt) => { shown.items.push(frame.seq); applied.push(`event ${frame.seq}${receivedAt == null ? " again" : ""}`); },
  });
  let marked = null;
  for (const [op, n, when] of steps) {
    if (op === "mark") { marked = seq.epoch; answers.push(null); }
    else if (op === "restart") { seq.restart(); answers.push(null); }
    else if (op === "snapshot") answers.push(seq.snapshot({ seq: n }, when === "marked" ? marked : seq.epoch));
    else answers.push(seq.event({ seq: n, event: {} }, 1));
  }
  return { items: shown.items, applied, answers, lastSeq: seq.lastSeq };
}"""


@pytest.fixture(scope="module")
def run() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        page = browser.new_page()
        page.set_content("<!doctype html><title>sequencer</title>")
        page.add_script_tag(path=str(SEQUENCER))
        yield lambda *steps: page.evaluate(RUN, [list(step) for step in steps])
        browser.close()


def consistent(result: dict[str, Any]) -> bool:
    return bool(result["items"] == list(range(1, result["lastSeq"] + 1)))


def test_it_drops_a_pushed_snapshot_older_than_the_fetched_one_already_shown(run: Any) -> None:
    # After a reconnect the fetch answered first (seq 12); the socket's own snapshot (seq 10) comes later.
    result = run(("restart",), ("snapshot", 12), ("snapshot", 10), ("event", 11), ("event", 12), ("event", 13))
    assert result["applied"] == ["snapshot 12", "event 13"]
    assert "older than the snapshot shown" in result["answers"][2]["dropped"]
    assert result["lastSeq"] == 13 and consistent(result)


def test_it_applies_the_events_newer_than_a_late_snapshot_again_on_top_of_it(run: Any) -> None:
    # The pushed snapshot (seq 10) and two events are shown; then a fetch that read seq 11 lands.
    result = run(("snapshot", 10), ("event", 11), ("event", 12), ("snapshot", 11), ("event", 13))
    assert result["applied"] == ["snapshot 10", "event 11", "event 12", "snapshot 11", "event 12 again", "event 13"]
    assert result["answers"][3] == {"applied": True, "gap": False, "replayed": 1}
    assert result["lastSeq"] == 13 and consistent(result)


def test_it_keeps_events_that_come_before_the_first_snapshot_of_a_new_epoch(run: Any) -> None:
    result = run(("snapshot", 3), ("restart",), ("event", 5), ("event", 6), ("snapshot", 4), ("event", 6))
    assert result["answers"][2]["kept"] and not result["answers"][2]["applied"]
    assert result["applied"] == ["snapshot 3", "snapshot 4", "event 5 again", "event 6 again"]
    assert result["lastSeq"] == 6 and consistent(result)


def test_it_drops_a_fetch_begun_before_the_stream_restarted(run: Any) -> None:
    result = run(("snapshot", 40), ("mark",), ("restart",), ("snapshot", 2), ("snapshot", 41, "marked"))
    assert result["answers"][4]["applied"] is False
    assert "before the stream restarted" in result["answers"][4]["dropped"]
    # The counter started again (Redis came back empty): the new epoch's lower numbers are applied.
    assert result["applied"] == ["snapshot 40", "snapshot 2"] and result["lastSeq"] == 2


def test_it_reports_a_gap_in_the_stream_and_in_the_events_kept_after_a_snapshot(run: Any) -> None:
    result = run(("snapshot", 1), ("event", 3))
    assert result["answers"][1]["gap"] is True
    result = run(("snapshot", 1), ("event", 2), ("event", 4), ("snapshot", 2))
    assert result["answers"][3]["gap"] is True  # 4 applied again on top of 2: 3 is still missing


def test_it_drops_events_already_in_the_snapshot(run: Any) -> None:
    result = run(("snapshot", 5), ("event", 4), ("event", 5), ("event", 6))
    assert result["applied"] == ["snapshot 5", "event 6"] and consistent(result)
