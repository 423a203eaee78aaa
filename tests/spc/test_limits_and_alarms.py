"""A quality engineer freezes limits (audited; recomputing needs a reason; data never moves them); a rule
violation raises an andon alarm on the live view naming the characteristic and the rule; it is acknowledged with
an assignable cause and a corrective action from the reaction plan (audited), not with the live view's free text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from django.core.management import call_command
from django.urls import reverse

from live.models import Alarm
from spc.models import Characteristic, ControlLimits, RuleViolation
from traceability.models import AuditRecord

MEAN, SIGMA = 30.042, 0.007


def baseline(n: int = 125, seed: int = 1) -> list[float]:
    return list(np.random.default_rng(seed).normal(MEAN, SIGMA, n))


def freeze(client: Any, ch: Characteristic, size: int = 125, reason: str = "") -> Any:
    return client.post(
        reverse("api-spc-freeze", args=[ch.pk]),
        {"baseline_size": size, "reason": reason},
        content_type="application/json",
    )


def test_it_lets_a_quality_engineer_freeze_limits_with_an_audit_record(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], quality_engineer: Any, login: Any
) -> None:
    add_values(baseline())
    client = login(quality_engineer)
    response = client.post(reverse("spc-freeze", args=[characteristic.pk]), {"baseline_size": 125, "reason": ""})
    assert response.status_code == 302
    limits = ControlLimits.objects.get(characteristic=characteristic, superseded_at__isnull=True)
    assert limits.frozen_by == quality_engineer and limits.baseline_values == 125
    assert limits.lcl < MEAN < limits.ucl
    record = AuditRecord.objects.get(action="spc.limits.freeze")
    assert record.actor == quality_engineer and str(limits.ucl)[:8] in record.payload
    page = client.get(characteristic.get_absolute_url()).content.decode()
    assert "Frozen" in page and "quinn" in page.lower()


def test_it_refuses_freezing_to_others_and_recomputing_without_a_reason(
    characteristic: Characteristic,
    add_values: Callable[[Sequence[float]], None],
    quality_engineer: Any,
    supervisor: Any,
    login: Any,
) -> None:
    add_values(baseline())
    assert freeze(login(supervisor), characteristic).status_code == 403
    qe = login(quality_engineer)
    assert freeze(qe, characteristic).status_code == 201
    first = ControlLimits.objects.get(characteristic=characteristic)
    refused = freeze(qe, characteristic)
    assert refused.status_code == 400 and "reason" in refused.json()
    assert freeze(qe, characteristic, reason="new tool holder fitted").status_code == 201
    first.refresh_from_db()
    assert first.superseded_at is not None
    assert ControlLimits.objects.filter(characteristic=characteristic, superseded_at__isnull=True).count() == 1
    assert AuditRecord.objects.filter(action="spc.limits.recompute", payload__contains="new tool holder").exists()


def test_it_never_moves_frozen_limits_as_data_arrives(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], quality_engineer: Any, login: Any
) -> None:
    add_values(baseline())
    client = login(quality_engineer)
    freeze(client, characteristic)
    before = client.get(reverse("api-spc-characteristic", args=[characteristic.pk])).json()["limits"]
    add_values(list(np.random.default_rng(2).normal(MEAN + 3 * SIGMA, SIGMA, 300)))  # the process moved
    call_command("watch_spc", "--once")
    after = client.get(reverse("api-spc-characteristic", args=[characteristic.pk])).json()
    assert {k: after["limits"][k] for k in ("center", "ucl", "lcl")} == {k: before[k] for k in ("center", "ucl", "lcl")}
    assert after["state"]["value"] == "out_of_control"


def test_it_raises_one_andon_alarm_per_rule_naming_the_characteristic(
    characteristic: Characteristic,
    add_values: Callable[[Sequence[float]], None],
    quality_engineer: Any,
    supervisor: Any,
    login: Any,
) -> None:
    add_values(baseline())
    characteristic.chart_kind = "imr"
    characteristic.save()
    freeze(login(quality_engineer), characteristic)
    call_command("watch_spc", "--once")
    assert not RuleViolation.objects.exists()  # the baseline itself raises nothing
    add_values([MEAN, MEAN + 10 * SIGMA])  # one part far beyond the UCL
    call_command("watch_spc", "--once")
    call_command("watch_spc", "--once")  # again: nothing new
    # The jump also breaks the moving-range chart's limit: one violation on each chart, no more.
    assert sorted(RuleViolation.objects.values_list("rule", flat=True)) == ["dispersion_1", "nelson_1"]
    violation = RuleViolation.objects.get(rule="nelson_1")
    assert violation.value > violation.limits.ucl
    alarm = Alarm.objects.get(pk=violation.alarm_id)
    assert alarm.rule == "spc" and alarm.cleared_at is None
    assert "bore_diameter" in alarm.message and "beyond 3σ" in alarm.message
    state = login(supervisor).get(reverse("cell-state", args=[characteristic.station.cell_id])).json()
    assert any(a["id"] == alarm.pk and "bore_diameter" in a["message"] for a in state["alarms"])
    add_values([MEAN + SIGMA * 0.5] * 9)  # nine in a row above the centre line: another rule, another alarm
    call_command("watch_spc", "--once")
    assert sorted(RuleViolation.objects.values_list("rule", flat=True)) == ["dispersion_1", "nelson_1", "nelson_2"]
    assert Alarm.objects.filter(rule="spc", cleared_at__isnull=True).count() == 3


def test_it_acknowledges_only_with_a_cause_and_a_corrective_action(
    characteristic: Characteristic,
    add_values: Callable[[Sequence[float]], None],
    quality_engineer: Any,
    operator: Any,
    auditor: Any,
    login: Any,
) -> None:
    add_values(baseline())
    freeze(login(quality_engineer), characteristic, size=125)
    add_values([MEAN + 12 * SIGMA] * 5)  # a subgroup far out
    call_command("watch_spc", "--once")
    violation = RuleViolation.objects.get(rule="nelson_1")
    alarm = violation.alarm
    assert alarm is not None
    client = login(operator)
    live_ack = client.post(
        reverse("alarm-acknowledge", args=[alarm.cell_id, alarm.pk]),
        {"reason": "seen"},
        content_type="application/json",
    )
    assert live_ack.status_code == 409
    url = reverse("api-spc-acknowledge", args=[violation.pk])
    assert client.post(url, {"note": "seen"}, content_type="application/json").status_code == 400
    assert (
        login(auditor)
        .post(url, {"cause": "tool-wear", "action": "change-tool"}, content_type="application/json")
        .status_code
        == 403
    )
    done = client.post(
        url, {"cause": "tool-wear", "action": "change-tool", "note": "insert chipped"}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json()["cause"] == "tool-wear"
    violation.refresh_from_db()
    alarm.refresh_from_db()
    assert violation.acknowledged_by == operator and violation.corrective_action.code == "change-tool"
    assert alarm.acknowledged_by == operator and alarm.cleared_at is not None and "Tool wear" in alarm.ack_reason
    record = AuditRecord.objects.get(action="spc.violation.acknowledge")
    assert record.actor == operator and "change-tool" in record.payload and "insert chipped" in record.payload
    again = client.post(url, {"cause": "tool-wear", "action": "change-tool"}, content_type="application/json")
    assert again.status_code == 409


def test_it_freezes_a_chosen_baseline_and_evaluates_everything_after_it(
    characteristic: Characteristic, add_values: Callable[[Sequence[float]], None], quality_engineer: Any, login: Any
) -> None:
    add_values(baseline(124) + [MEAN + 12 * SIGMA] * 5 + baseline(50, seed=3))  # an excursion after the baseline
    response = login(quality_engineer).post(
        reverse("api-spc-freeze", args=[characteristic.pk]),
        {"baseline_size": 125, "baseline_start": 0},
        content_type="application/json",
    )
    assert response.status_code == 201
    limits = ControlLimits.objects.get(characteristic=characteristic)
    assert limits.ucl < MEAN + 12 * SIGMA  # the excursion is not in the baseline
    call_command("watch_spc", "--once")
    assert RuleViolation.objects.filter(rule="nelson_1").count() == 1
