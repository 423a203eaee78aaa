"""The quality engineer's pages: the registry, a version, and the RQ1 transition from training to the line, which
shows the device's figures where a profiling run measured this model and says "not measured" (and why) elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from modelops import actions
from modelops.choices import TrainingStatus
from modelops.models import TrainingRun
from modelops.tasks import train_model
from profiling.models import ProfilingRun, ProfilingVariant
from tests.modelops.support import PASSWORD, device_of, other_version, shipped_version

pytestmark = pytest.mark.django_db


def test_the_transition_shows_profiled_runtimes_and_says_what_was_not_measured(
    cell: Any, quality_engineer: Any, login: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    device, _ = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    run = ProfilingRun.objects.create(
        device=device, requested_at=timezone.now(), model_sha256=version.sha256, model_version=version.version
    )
    ProfilingVariant.objects.create(
        run=run,
        key="ort-fp32",
        backend="onnxruntime",
        precision="fp32",
        available=True,
        images=56,
        correct=50,
        accuracy=0.8929,
        fps=41.5,
        device="cpu",
        power_note="not measured: power sampler 'none' configured",
    )
    ProfilingVariant.objects.create(
        run=run,
        key="trt-int8",
        position=1,
        backend="tensorrt",
        precision="int8",
        available=False,
        reason="tensorrt not installed",
    )

    page = login(quality_engineer).get(f"/modelops/v/{version.sha256}/transition").content.decode()

    assert "device onnxruntime fp32" in page and "0.8929" in page and "41.5" in page
    assert "not measured: power sampler &#x27;none&#x27; configured" in page  # FPS/W: no power sensor
    assert "not measured: tensorrt not installed" in page
    assert "not measured: no reviewed verdict of this version yet" in page


def test_the_registry_lists_versions_aliases_and_deployments(
    cell: Any, quality_engineer: Any, login: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    device, _ = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    actions.assign_alias(
        version, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="first"
    )
    page = login(quality_engineer).get("/modelops/").content.decode()
    assert version.version in page and device.device_id in page and "not asked yet (offline?)" in page
    assert "Start training" in page
    # A first champion has nothing to roll back to: no signature is asked for a move that would be refused.
    assert "nothing to roll back to" in page and "Roll back…" not in page
    second = other_version(quality_engineer, "b")
    actions.assign_alias(
        second, cell=cell, alias="candidate", actor=quality_engineer, credential=PASSWORD, reason="trial"
    )
    actions.promote(cell, actor=quality_engineer, credential=PASSWORD, reason="better")
    page = login(quality_engineer).get("/modelops/").content.decode()
    assert "Roll back…" in page and f"goes back to {version.version}" in page and "You sign as Quinn Tester" in page


def test_an_auditor_sees_the_registry_but_no_buttons(cell: Any, auditor: Any, login: Any) -> None:
    page = login(auditor).get("/modelops/")
    assert page.status_code == 200 and "Start training" not in page.content.decode()


def test_training_refuses_to_render_the_golden_set_as_training_data(quality_engineer: Any) -> None:
    from modelops.golden import GOLDEN_SEED

    run = actions.request_training(params={"seed": GOLDEN_SEED, "epochs": 1}, actor=quality_engineer)
    assert train_model(run.pk) is None
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.status == TrainingStatus.FAILED and "renders the golden set" in run.error and run.version is None
