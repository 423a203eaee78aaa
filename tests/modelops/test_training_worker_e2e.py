"""A real Celery worker on the training queue takes the run the page started, trains (tiny, CPU), and registers
the version; the page shows its progress."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from modelops.choices import TrainingStatus
from modelops.models import TrainingRun
from tests.support import processes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(400)]


def test_a_training_worker_trains_and_registers_what_the_page_asked_for(
    quality_engineer: Any, login: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = media = tmp_path / "media"
    settings.TWINWEB_TRAINING_QUEUE = queue = f"training-e2e-{uuid.uuid4().hex[:8]}"
    env = processes.worker_env(django_settings.REDIS_URL, media)
    page = login(quality_engineer)
    with processes.celery_worker(env, queue, tmp_path / "training.log"):
        page.post(
            "/modelops/train", {"epochs": 2, "train_per_class": 1, "val_per_class": 1, "golden_rendered": 14, "seed": 1}
        )
        run = TrainingRun.objects.get()

        def finished() -> bool:
            run.refresh_from_db()
            return run.status in (TrainingStatus.DONE, TrainingStatus.FAILED)

        processes.wait_for(
            finished, 300, "the training run to finish", on_fail=lambda: (tmp_path / "training.log").read_text()[-3000:]
        )
    assert run.status == TrainingStatus.DONE, run.error
    assert [p["epoch"] for p in run.progress] == [1, 2] and run.version is not None
    assert (media / run.version.file).is_file()
    assert "2/2 loss" in page.get("/modelops/").content.decode()
