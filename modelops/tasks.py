"""The model registry's Celery tasks (thin: ids in, an action called)."""

from __future__ import annotations

import logging

from celery import shared_task

from modelops import actions
from modelops.choices import TrainingStatus
from modelops.models import TrainingRun
from traceability.models import Cell

log = logging.getLogger(__name__)


@shared_task(name="modelops.tasks.train_model")
def train_model(run_id: int) -> int | None:
    """On the `training` queue (TWINWEB_TRAINING_QUEUE): a worker of its own, so minutes of CPU training never
    hold up ingest. A run already started or finished is not started again (redelivery)."""
    from modelops.training import run_training

    if not TrainingRun.objects.filter(pk=run_id, status=TrainingStatus.QUEUED).exists():
        return None
    try:
        return run_training(run_id).pk
    except Exception as exc:
        log.exception("training run %s failed", run_id)
        actions.record_training_state(run_id, status=TrainingStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        return None


@shared_task(name="modelops.tasks.check_override_rates")
def check_override_rates() -> list[str]:
    """Roll back each cell's champion whose override rate crossed the limit (what `manage.py
    watch_model_overrides` does in a loop; a task for deployments that run Celery beat)."""
    rolled = []
    for cell in Cell.objects.order_by("pk"):
        if actions.auto_rollback_on_overrides(cell) is not None:
            rolled.append(cell.code)
    return rolled
