"""After a device has downloaded and verified a new version it builds every engine it can (TensorRT where present),
each timed and reported ("building 2 of 4"), and runs the profiling protocol on it, whose report lands in the
server's profiling store; only then does the version go under its alias and decide anything. A version the device
cannot build or measure is refused with the reason and never runs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_worker.contracts import model_delivery as md
from edge_worker.model_update import STAGING, ModelClient, Preparation, installed_sha256
from modelops import actions
from modelops.choices import DeployStatus
from modelops.models import DeployIntent
from profiling.choices import ProfilingRunStatus
from profiling.models import ProfilingRun
from tests.modelops.support import PASSWORD, QUICK_PROFILE, client, device_of, other_version, shipped_version
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db(transaction=True)

TENSORRT_HERE = __import__("importlib").util.find_spec("tensorrt") is not None


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


class WatchedClient(ModelClient):
    """The device's client, noting at each step it reports what the device runs at that moment."""

    steps: list[tuple[str, str, dict[str, str]]]

    def progress(self, deployment: Any, status: str, progress: str, prepared: Preparation) -> None:
        self.steps.append((status, progress, installed_sha256(self.models_dir)))
        super().progress(deployment, status, progress, prepared)


def watched(url: str, credentials: Any, models_dir: Path, **options: Any) -> WatchedClient:
    device = WatchedClient(url, credentials, models_dir, timeout_s=10, **{"profile": QUICK_PROFILE, **options})
    device.steps = []
    return device


def deploy(version: Any, cell: Any, quality_engineer: Any, alias: str = "champion") -> None:
    actions.assign_alias(
        version, cell=cell, alias=alias, actor=quality_engineer, credential=PASSWORD, reason="new model to the line"
    )


def test_it_builds_and_profiles_a_new_version_before_it_decides_anything(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path, login: Any
) -> None:
    pytest.importorskip("onnxruntime")
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    deploy(version, cell, quality_engineer)
    edge = watched(live_server.url, credentials, tmp_path / "edge")

    outcome = edge.sync()

    assert [d["sha256"] for d in outcome.installed] == [version.sha256], outcome.refused
    statuses = [s for s, _, _ in edge.steps]
    assert statuses[0] == md.DOWNLOADING and statuses[-1] == md.PROFILING
    builds = [p for s, p, _ in edge.steps if s == md.BUILDING]
    assert builds[0] == "building 1 of 4: tensorrt fp32" and builds[-1] == "building 4 of 4: torch fp32"
    # Nothing ran the new version while it was being built and measured: it went under its alias at the end.
    assert all(running == {} for _, _, running in edge.steps)
    assert installed_sha256(tmp_path / "edge") == {"champion": version.sha256}
    assert not any((tmp_path / "edge" / STAGING).iterdir())

    intent = DeployIntent.objects.get(device=device)
    assert intent.status == DeployStatus.INSTALLED and intent.progress.startswith("ready: measured")
    engines = {(e["backend"], e["precision"]): e for e in intent.engines}
    ort = engines[("onnxruntime", "fp32")]
    assert ort["built"] and ort["seconds"] > 0 and ort["detail"].startswith("onnxruntime ")
    assert engines[("torch", "fp32")]["detail"].startswith("not built: no PyTorch weights delivered")
    if not TENSORRT_HERE:
        trt = engines[("tensorrt", "fp32")]
        assert not trt["built"] and trt["seconds"] is None
        assert trt["detail"].startswith("not built: TensorRT not installed")

    # The profiling run of this very model is in the profiling store, the variants the device lacks with why.
    run = ProfilingRun.objects.get(run_id=intent.profiling_run_id)
    assert run.status == ProfilingRunStatus.DONE and run.model_sha256 == version.sha256
    assert run.device == device and run.power_measured is False
    variants = {v.key: v for v in run.variants.all()}
    measured = variants["onnxruntime-fp32"]
    assert measured.available and measured.fps and measured.fps > 0 and measured.images == 4
    assert measured.fps_per_w_inference is None and measured.power_note.startswith("not measured")
    if not TENSORRT_HERE:
        assert not variants["tensorrt-fp32"].available and "tensorrt" in variants["tensorrt-fp32"].reason

    audit = json.loads(AuditRecord.objects.get(action="modelops.deploy.installed").payload)["after"]
    assert audit["profiling_run"] == str(run.run_id) and audit["engines"]["onnxruntime fp32"] == ort["seconds"]

    page = login(quality_engineer)
    version_page = page.get(f"/modelops/v/{version.sha256}/").content.decode()
    assert "Ready on the device (built and profiled)" in version_page
    assert f"{ort['seconds']:.3f} s" in version_page  # each engine's build time
    assert TENSORRT_HERE or "not built: TensorRT not installed" in version_page
    assert f"/profiling/runs/{run.run_id}/" in version_page and "device onnxruntime fp32" in version_page
    registry = page.get("/modelops/").content.decode()
    assert "Ready on the device" in registry and f"{intent.build_seconds:.3f} s" in registry
    transition = page.get(f"/modelops/v/{version.sha256}/transition").content.decode()
    assert "device onnxruntime fp32" in transition


def test_a_version_the_configured_backend_cannot_build_is_refused_and_never_runs(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    if TENSORRT_HERE:
        pytest.skip("this device has TensorRT: the refusal needs a backend it lacks")
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    deploy(version, cell, quality_engineer)

    outcome = client(live_server.url, credentials, tmp_path / "edge", backend="tensorrt").sync()

    [refused] = outcome.refused
    assert refused["reason"].startswith("the configured backend tensorrt could not build this model: not built: ")
    assert installed_sha256(tmp_path / "edge") == {} and not any((tmp_path / "edge" / STAGING).iterdir())
    intent = DeployIntent.objects.get(device=device)
    assert intent.status == DeployStatus.REFUSED and "TensorRT not installed" in intent.reason
    assert any(e["built"] for e in intent.engines)  # what it could build is on record, timed
    assert not ProfilingRun.objects.exists()  # nothing measured a model that will not run
    assert AuditRecord.objects.filter(action="modelops.deploy.refused").count() == 1


def test_a_version_the_protocol_could_not_measure_is_refused_with_its_profiling_run_kept(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    if TENSORRT_HERE:
        pytest.skip("this device has TensorRT: profiling only TensorRT would measure it")
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    deploy(version, cell, quality_engineer, alias="candidate")
    only_tensorrt = {**QUICK_PROFILE, "variants": ["tensorrt-fp32"]}

    outcome = client(live_server.url, credentials, tmp_path / "edge", profile=only_tensorrt).sync()

    assert outcome.refused[0]["reason"].startswith("profiling measured no variant: ")
    assert installed_sha256(tmp_path / "edge") == {}
    intent = DeployIntent.objects.get(device=device)
    assert intent.status == DeployStatus.REFUSED
    run = ProfilingRun.objects.get(run_id=intent.profiling_run_id)
    assert run.model_sha256 == version.sha256 and not run.variants.get().available


def test_a_device_that_restarted_mid_build_is_offered_the_deployment_again(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    deploy(version, cell, quality_engineer)
    edge = client(live_server.url, credentials, tmp_path / "edge")
    [deployment] = edge.ask()["deployments"]
    edge.progress(deployment, md.BUILDING, "building 2 of 4: onnxruntime fp32", Preparation())
    assert DeployIntent.objects.get(device=device).status == DeployStatus.BUILDING
    # ... and the device lost power there. On its next start it asks again:

    outcome = client(live_server.url, credentials, tmp_path / "edge").sync()

    assert [d["sha256"] for d in outcome.installed] == [version.sha256]
    assert DeployIntent.objects.get(device=device).status == DeployStatus.INSTALLED


def test_a_newer_deploy_supersedes_one_being_built_and_its_late_report_changes_nothing(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    device, credentials = device_of(cell, quality_engineer)
    first, second = shipped_version(quality_engineer), other_version(quality_engineer, "b")
    deploy(first, cell, quality_engineer)
    edge = client(live_server.url, credentials, tmp_path / "edge")
    [building] = edge.ask()["deployments"]
    edge.progress(building, md.PROFILING, "profiling 9 variants", Preparation())

    deploy(second, cell, quality_engineer)
    edge.report(building, status=md.INSTALLED, progress="ready")

    old = DeployIntent.objects.get(device=device, version=first)
    assert old.status == DeployStatus.SUPERSEDED
    assert [d["sha256"] for d in edge.ask()["deployments"]] == [second.sha256]


def test_the_profiling_endpoint_stores_only_reports_signed_by_a_registered_device(
    cell: Any, quality_engineer: Any, live_server: Any, tmp_path: Path
) -> None:
    import urllib.error
    import urllib.request

    from edge_worker.contracts.queues import STORE_PROFILING_RUN_TASK
    from edge_worker.profiling.protocol import failure_report

    device, credentials = device_of(cell, quality_engineer)
    report = failure_report(str(uuid.uuid4()), device.device_id, {}, "no model on the device")

    def post(message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{live_server.url}/{md.PROFILING_PATH}", data=json.dumps(message).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post(report)[0] == 403  # unsigned
    assert post(credentials.sign(report, "modelops.report"))[0] == 403  # signed for another purpose
    assert not ProfilingRun.objects.exists()
    status, body = post(credentials.sign(report, STORE_PROFILING_RUN_TASK))
    assert status == 200 and body["status"] == ProfilingRunStatus.FAILED and body["created"]
    assert ProfilingRun.objects.get().error == "no model on the device"


def test_the_worker_builds_and_profiles_a_delivery_on_a_thread_of_its_own_one_at_a_time(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    pytest.importorskip("onnxruntime")
    from edge_worker.power import NoneSampler, PowerMonitor
    from edge_worker.runtime import EdgeRuntime

    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    deploy(version, cell, quality_engineer)
    for name, value in {
        "TWINWEB_SERVER_URL": live_server.url,
        "TWINWEB_EDGE_DEVICE": device.device_id,
        "TWINWEB_EDGE_SECRET": credentials.secret.text(),
        "TWINWEB_EDGE_MODELS_DIR": str(tmp_path / "edge"),
        "TWINWEB_MODEL_PROFILE_IMAGES": "4",
        "TWINWEB_MODEL_PROFILE_ROUNDS": "1",
        "TWINWEB_MODEL_PROFILE_WARMUP": "0",
        "TWINWEB_POWER_SAMPLER": "none",
    }.items():
        monkeypatch.setenv(name, value)
    runtime = EdgeRuntime(device_id=device.device_id, backend="onnxruntime", monitor=PowerMonitor(NoneSampler()))
    try:
        assert runtime.model.alias == ""  # the shipped model decides until the delivery is ready
        assert runtime.sync_models_in_background() is True
        assert runtime.sync_models_in_background() is False  # one sync at a time: the next beat tries again
        assert runtime._sync_thread is not None
        runtime._sync_thread.join(120)
        assert (runtime.model.sha256, runtime.model.alias) == (version.sha256, "champion")
        assert DeployIntent.objects.get(device=device).status == DeployStatus.INSTALLED
    finally:
        runtime.close()
