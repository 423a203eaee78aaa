"""/profiling/: any signed-in role reads the deck's table, the charts' data and the CSV; only roles with
PROFILE_EDGE start a run, which is queued on the device's own queue after commit."""

from __future__ import annotations

import csv
import io
import re
import json
import uuid
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client

from edge_worker.contracts.queues import PROFILE_EDGE_TASK
from inspection.actions.edge import register_edge_device
from profiling.models import ProfilingRun
from tests.support import factories
from tests.support.profiling_reports import profiling_report, store_sent, variant_report
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(db: Any) -> Any:
    device, _ = register_edge_device(factories.unique("jetson"), cell=factories.make_cell(), actor=None)
    return device


@pytest.fixture
def stored_run(device: Any) -> ProfilingRun:
    report = {
        "schema": 1,
        "run_id": str(uuid.uuid4()),
        "device_id": device.device_id,
        "hardware": "Jetson Nano (test)",
        "started_at": "2026-11-25T03:00:00+00:00",
        "finished_at": "2026-11-25T03:05:00+00:00",
        "config": {"images": 100, "warmup": 1, "rounds": 1, "batch_size": 1, "seed": 808},
        "power_source": "jtop: test",
        "power_measured": True,
        "model": {"version": "m-1", "sha256": "ab" * 32},
        "environment": {},
        "error": "",
        "variants": [
            variant_report("torch-fp32", 41.0, 3386.0, 6125.0),
            variant_report("tensorrt-fp32", 82.0, 3185.0, 5711.0),
            {
                "key": "tensorrt-int8",
                "backend": "tensorrt",
                "precision": "int8",
                "label": "TensorRT INT8",
                "available": False,
                "reason": "TensorRT 11.4 removed the INT8 builder flag",
                "metrics": {},
                "phases": [],
            },
        ],
    }
    run, _ = store_sent(report)
    return run


@pytest.mark.parametrize("persona", ["operator", "supervisor", "auditor", "quality_engineer", "admin_user"])
def test_every_role_reads_the_decks_table(persona: str, stored_run: ProfilingRun, request: Any, login: Any) -> None:
    client = login(request.getfixturevalue(persona))
    index = client.get("/profiling/")
    assert index.status_code == 200
    assert "12.10 / 12.11" in index.content.decode()  # the deck's own figure beside our recomputation
    assert "26.01 / –" in index.content.decode()  # FP16's inputs are derived from its FPS/W: nothing to recompute
    page = client.get(f"/profiling/runs/{stored_run.run_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    # The deck's own arithmetic on its own figures: 41 FPS at 3386 mW -> 12.11; 82 at 3185 -> 25.75.
    for figure in ("12.11", "25.75", "6.69", "14.36", "97.0", "41.0", "82.0", "149.39"):
        assert figure in html, figure
    assert "TensorRT 11.4 removed the INT8 builder flag" in html
    # No asset from a CDN (matched as a URL: a random CSRF token may spell "cdn").
    assert "vendor/plotly.min.js" in html and not re.search(r"(src|href)=\"https?://", html)
    data = json.loads(html.split('id="edge-chart-data" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert [v["key"] for v in data["variants"]] == ["torch-fp32", "tensorrt-fp32"]
    assert data["variants"][0]["power"][0] == [0.0, 5000.0, "load"]


def test_outsiders_and_anonymous_users_see_nothing(stored_run: ProfilingRun, outsider: Any, login: Any) -> None:
    client = login(outsider)
    for path in (
        "/profiling/",
        f"/profiling/runs/{stored_run.run_id}/",
        "/profiling/runs.csv",
        f"/profiling/runs/{stored_run.run_id}/series.csv",
    ):
        assert client.get(path).status_code == 403, path
        anonymous = Client().get(path)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_csv_has_one_row_per_variant_with_raw_numbers(stored_run: ProfilingRun, auditor: Any, login: Any) -> None:
    response = login(auditor).get("/profiling/runs.csv", {"run": str(stored_run.run_id)})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["variant"] for r in rows] == ["torch-fp32", "tensorrt-fp32", "tensorrt-int8"]
    trt = rows[1]
    assert float(trt["fps_per_w_total"]) == pytest.approx(82 / 3.185)
    assert float(trt["accuracy_pct"]) == pytest.approx(97.0)
    assert int(trt["mem_rss_bytes_peak"]) == 300 * 2**20  # bytes, as the column says
    assert rows[2]["available"] == "False" and "INT8" in rows[2]["reason"] and rows[2]["fps"] == ""


def test_the_series_csv_has_every_power_and_memory_sample_with_its_phase(
    stored_run: ProfilingRun, auditor: Any, login: Any
) -> None:
    response = login(auditor).get(f"/profiling/runs/{stored_run.run_id}/series.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    power = [r for r in rows if r["series"] == "power"]
    memory = [r for r in rows if r["series"] == "memory"]
    assert len(power) == len(memory) == 16  # 8 samples each for the two variants that ran
    assert (power[1]["variant"], float(power[1]["t_s"]), float(power[1]["power_mw"]), power[1]["phase"]) == (
        "torch-fp32",
        0.1,
        5001.0,
        "build",
    )
    assert int(memory[0]["rss_bytes"]) == 300 * 2**20 and memory[0]["power_mw"] == ""


def test_power_that_was_not_measured_says_so(device: Any, operator: Any, login: Any) -> None:
    report = profiling_report(
        device.device_id,
        [variant_report("onnxruntime-fp32", 500.0, None, None)],
        power_measured=False,
        power_source="none: no rails",
    )
    run, _ = store_sent(report)
    html = login(operator).get(f"/profiling/runs/{run.run_id}/").content.decode()
    assert html.count("not measured") >= 5 and "no sampler (test)" in html


def test_runs_of_several_devices_are_compared(stored_run: ProfilingRun, supervisor: Any, login: Any) -> None:
    other, _ = register_edge_device(factories.unique("orin"), cell=factories.make_cell(), actor=None)
    store_sent(profiling_report(other.device_id, [variant_report("tensorrt-fp32", 160.0, 7000.0, 9000.0)]))
    html = login(supervisor).get("/profiling/").content.decode()
    assert "Comparison across runs and devices" in html
    assert other.device_id in html and stored_run.device.device_id in html
    only = login(supervisor).get("/profiling/", {"device": other.device_id}).content.decode()
    assert "Comparison across runs and devices" not in only  # a single run has nothing to compare


def test_only_profile_edge_roles_start_a_run(
    device: Any, operator: Any, auditor: Any, quality_engineer: Any, login: Any, django_capture_on_commit_callbacks: Any
) -> None:
    form = {"device": device.device_id, "images": "8", "warmup": "0", "rounds": "1"}
    for refused in (operator, auditor):
        assert login(refused).post("/profiling/start/", form).status_code == 403
    assert not ProfilingRun.objects.exists()
    queue = f"edge.{device.device_id}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete(queue)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(quality_engineer).post("/profiling/start/", form)
    run = ProfilingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/profiling/runs/{run.run_id}/"
    assert run.status == "queued" and run.requested_by == quality_engineer
    assert run.config["images"] == 8 and run.config["rounds"] == 1
    record = AuditRecord.objects.get(subject_key=str(run.run_id))
    assert record.action == "profiling.requested" and record.actor_id == quality_engineer.pk
    # The job is on the device's own queue in the real broker, by task name, carrying the run id.
    try:
        [raw] = broker.lrange(queue, 0, -1)
        message = json.loads(raw)
        assert message["headers"]["task"] == PROFILE_EDGE_TASK
        assert str(run.run_id) in message["headers"]["kwargsrepr"]
    finally:
        broker.delete(queue)
    page = login(quality_engineer).get(f"/profiling/runs/{run.run_id}/").content.decode()
    assert "Waiting for the device" in page


def test_the_index_query_count_does_not_grow_with_runs(
    device: Any, auditor: Any, login: Any, django_assert_num_queries: Any
) -> None:
    client = login(auditor)

    def store(n: int) -> None:
        for _ in range(n):
            store_sent(profiling_report(device.device_id, [variant_report("torch-fp32", 41.0, 3386.0, 6125.0)]))

    store(1)
    client.get("/profiling/")  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get("/profiling/").status_code == 200
    store(3)
    with django_assert_num_queries(len(one.captured_queries)):
        assert client.get("/profiling/").status_code == 200


def test_the_demo_queues_one_first_profiling_run_on_its_device(
    device: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from demo.management.commands.run_demo import Command

    queue = f"edge.{device.device_id}"
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete(queue)
    command = Command(stdout=io.StringIO())
    try:
        with django_capture_on_commit_callbacks(execute=True):
            command._queue_first_profiling_run(device)
        with django_capture_on_commit_callbacks(execute=True):
            command._queue_first_profiling_run(device)
        [run] = ProfilingRun.objects.filter(device=device)
        assert run.status == "queued" and run.requested_by is None
        [raw] = broker.lrange(queue, 0, -1)
        assert str(run.run_id) in json.loads(raw)["headers"]["kwargsrepr"]
    finally:
        broker.delete(queue)


def test_a_run_filter_that_is_no_run_id_is_a_400_not_a_500(stored_run: ProfilingRun, auditor: Any, login: Any) -> None:
    response = login(auditor).get("/profiling/runs.csv", {"run": "abc"})
    assert response.status_code == 400 and b"not a run id" in response.content
