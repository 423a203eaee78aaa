"""The champion rolls back by itself when the operators override too many of its verdicts in Debug Mode."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from inspection.models import Inspection
from modelops import actions
from modelops.choices import Alias, AliasChangeKind, DeployStatus
from modelops.models import AliasChange, DeployIntent, ModelAlias
from modelops.tasks import check_override_rates
from review.actions import claims, verdicts
from tests.modelops.support import PASSWORD, device_of, other_version, shipped_version
from tests.support.review_cases import make_review_case
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def promoted(cell: Any, quality_engineer: Any, settings: Any, tmp_path: Path) -> tuple[Any, Any]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TWINWEB_MODEL_OVERRIDE_RATE_MAX = 0.5
    settings.TWINWEB_MODEL_OVERRIDE_MIN_REVIEWS = 3
    device_of(cell, quality_engineer)
    old, new = shipped_version(quality_engineer), other_version(quality_engineer, "new")
    actions.assign_alias(old, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="a")
    actions.assign_alias(new, cell=cell, alias="candidate", actor=quality_engineer, credential=PASSWORD, reason="b")
    actions.promote(cell, actor=quality_engineer, credential=PASSWORD, reason="better on the golden set")
    return old, new


def judged(cell: Any, operator: Any, version: Any, *, overridden: int, confirmed: int) -> None:
    """Failed parts inspected by `version`, which the operator overrides to OK or confirms."""
    for i in range(overridden + confirmed):
        case = make_review_case(cell, defect="scratch", seed=10 + i)
        Inspection.objects.filter(pk=case.pk).update(model_sha256=version.sha256, model_version=version.version)
        claims.claim_case(case, actor=operator)
        decision: dict[str, Any] = (
            {"verdict": "override_ok", "reason_code": "dirt"}
            if i < overridden
            else {"verdict": "confirm_nok", "disposition": "scrap"}
        )
        verdicts.sign_verdict(case, actor=operator, credential=PASSWORD, idempotency_key=uuid.uuid4(), **decision)


def test_it_keeps_the_champion_while_overrides_stay_under_the_limit(
    cell: Any, operator: Any, promoted: tuple[Any, Any]
) -> None:
    _, new = promoted
    judged(cell, operator, new, overridden=1, confirmed=2)  # 33 % <= 50 %
    assert check_override_rates() == []
    assert ModelAlias.objects.get(cell=cell, alias=Alias.CHAMPION).version == new


def test_it_waits_for_enough_reviews(cell: Any, operator: Any, promoted: tuple[Any, Any]) -> None:
    _, new = promoted
    judged(cell, operator, new, overridden=2, confirmed=0)  # 100 %, but only 2 < 3 reviews
    assert actions.auto_rollback_on_overrides(cell) is None


def test_it_rolls_back_when_operators_override_too_many_verdicts(
    cell: Any, operator: Any, promoted: tuple[Any, Any]
) -> None:
    old, new = promoted
    judged(cell, operator, old, overridden=3, confirmed=0)  # the old model's overrides do not count against new
    judged(cell, operator, new, overridden=2, confirmed=1)  # 67 % > 50 %

    out = io.StringIO()
    call_command("watch_model_overrides", "--once", stdout=out)  # what the watcher process runs
    assert f"{cell.code}: rolled back to {old.version}" in out.getvalue()

    champion = ModelAlias.objects.get(cell=cell, alias=Alias.CHAMPION)
    assert champion.version == old and champion.previous is None  # no flip-flop back to the bad model
    change = AliasChange.objects.get(kind=AliasChangeKind.AUTO_ROLLBACK)
    assert change.actor is None and change.signature_id is None and "2 of 3" in change.reason
    assert AuditRecord.objects.filter(action="modelops.alias.auto_rollback").count() == 1
    assert DeployIntent.objects.filter(alias=Alias.CHAMPION, version=old, status=DeployStatus.PENDING).count() == 1
    # Rolled back once: the restored champion has no override history of its own since it came back.
    assert check_override_rates() == []


def test_a_pass_the_operators_find_defective_counts_as_an_override(
    cell: Any, operator: Any, promoted: tuple[Any, Any]
) -> None:
    old, new = promoted
    for i in range(3):  # low-confidence passes of the new champion, each found scratched in Debug Mode
        case = make_review_case(cell, defect="ok", confidence=0.5, seed=30 + i)
        assert case.verdict == "pass"
        Inspection.objects.filter(pk=case.pk).update(model_sha256=new.sha256, model_version=new.version)
        claims.claim_case(case, actor=operator)
        verdicts.sign_verdict(
            case,
            actor=operator,
            credential=PASSWORD,
            idempotency_key=uuid.uuid4(),
            verdict="confirm_nok",
            disposition="scrap",
            reason_code="scratch",
        )
    change = actions.auto_rollback_on_overrides(cell)
    assert change is not None and change.to_version == old and "3 of 3" in change.reason
