"""An alarm's words are stored as a msgid and its parameters beside the English message, and each reader sees them
in their own language: the live page's snapshot (which lists the andon) for a Portuguese user is in Portuguese,
for an English user in English, whichever source raised the alarm. The English message stays for logs, the API's
older clients and the audit trail; an alarm stored before its words were (no msgid) shows that message."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import UserPreference
from gateway.actions import record_gap
from gateway.address_space import GapCause
from inspection.models import EdgeDevice
from live import actions as alarms
from live.choices import AlarmRule
from live.models import Alarm
from spc.models import Characteristic
from tests.live.test_andon_alarms import inspect_in_a_row
from tests.spc.conftest import add_values, characteristic, measured  # noqa: F401 (the SPC alarm's fixtures)
from tests.support import factories
from tests.support import live_builders as builders
from traceability import roles
from traceability.models import AuditRecord, Station

pytestmark = pytest.mark.django_db


def reader(username: str, language: str | None) -> Client:
    """A supervisor signed in, whose profile says `language` (None: English, as their browser asks)."""
    user = factories.make_user(username, roles.SUPERVISOR)
    if language:
        UserPreference.objects.create(user=user, language=language)
    client = Client()
    client.force_login(user)
    return client


def andon(client: Client, cell_id: int) -> dict[str, str]:
    """The live page's andon, as its snapshot lists it: rule -> the words the page shows."""
    state = client.get(reverse("cell-state", args=[cell_id]), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").json()
    return {row["rule"]: row["text"] for row in state["alarms"]}


def raise_every_cell_rule(cell: Any) -> None:
    inspect_in_a_row(cell, ["fail", "fail", "fail"])  # three NOK at visual
    batch = builders.batch_for(cell)
    dimensional = builders.stations(cell)[2]
    start = timezone.now() - dt.timedelta(minutes=20)
    for i in range(10):  # ten parts over 1.2 x the 15 s target
        builders.visit(
            factories.make_part(batch), dimensional, entered=start + dt.timedelta(seconds=30 * i), dwell_s=18.5
        )
    EdgeDevice.objects.create(
        device_id="jetson-a", name="Jetson", cell=cell, last_heartbeat_at=timezone.now() - dt.timedelta(seconds=30)
    )
    alarms.evaluate_cell_alarms(cell)
    load = Station.objects.get(cell=cell, code="load")
    record_gap(load, boot_id="boot-1", first=2, last=4, cause=GapCause.NOT_IN_BUFFER, cause_params={"buffer_size": 8})


def test_it_shows_each_cell_alarm_in_portuguese_to_a_portuguese_reader(cell: Any) -> None:
    raise_every_cell_rule(cell)
    visual = Station.objects.get(cell=cell, code="visual")
    dimensional = Station.objects.get(cell=cell, code="dimensional")
    texts = andon(reader("joao", "pt-br"), cell.pk)
    assert texts == {
        "nok_streak": f"{visual.name}: 3 NOK seguidas",
        "slow_cycle": f"{dimensional.name}: tempo de ciclo acima de 18,0 s por 10 peças",
        "stale_device": texts["stale_device"],
        "link_gap": "3 evento(s) do CLP perdido(s) em load (fora do buffer do CLP de 8 eventos)",
    }
    assert texts["stale_device"] in (
        "Dispositivo de borda jetson-a sem sinal: nenhum sinal de vida",
        "Dispositivo de borda jetson-a offline: nenhum sinal de vida",
    )


def test_it_keeps_the_english_words_for_an_english_reader_logs_and_the_audit_trail(cell: Any) -> None:
    raise_every_cell_rule(cell)
    visual = Station.objects.get(cell=cell, code="visual")
    dimensional = Station.objects.get(cell=cell, code="dimensional")
    texts = andon(reader("sam", None), cell.pk)
    assert texts["nok_streak"] == f"{visual.name}: 3 NOK in a row"
    assert texts["slow_cycle"] == f"{dimensional.name}: cycle time over 18.0 s for 10 parts"
    assert texts["stale_device"] in (
        "Edge device jetson-a is stale: no heartbeat",
        "Edge device jetson-a is offline: no heartbeat",
    )
    assert texts["link_gap"] == "3 PLC event(s) lost at load (not in the PLC's buffer of 8 any more)"
    for alarm in Alarm.objects.filter(cell=cell):
        assert alarm.message == texts[alarm.rule], "the stored message is the English rendering"
    raised = AuditRecord.objects.filter(action="alarm.raise").values_list("payload", flat=True)
    assert {json.loads(payload)["after"]["message"] for payload in raised} == set(texts.values())


def test_it_shows_an_alarm_stored_before_its_msgid_with_its_message(cell: Any) -> None:
    Alarm.objects.create(cell=cell, rule=AlarmRule.LINK_GAP, message="2 PLC event(s) lost", raised_at=timezone.now())
    assert andon(reader("joao", "pt-br"), cell.pk) == {"link_gap": "2 PLC event(s) lost"}


def test_it_falls_back_to_the_message_when_the_parameters_do_not_fit(cell: Any) -> None:
    alarm = Alarm.objects.create(
        cell=cell,
        rule=AlarmRule.LINK_GAP,
        message="3 PLC event(s) lost at load",
        message_code="%(count)s PLC event(s) lost at %(station)s (%(reason)s)",
        message_params={"count": 3},
        raised_at=timezone.now(),
    )
    assert alarm.text() == "3 PLC event(s) lost at load"


def test_it_names_an_spc_alarms_rule_in_the_readers_language(
    characteristic: Characteristic,  # noqa: F811
    add_values: Callable[[Sequence[float]], None],  # noqa: F811
    quality_engineer: Any,
    login: Any,
) -> None:
    mean, sigma = 30.042, 0.007
    add_values(list(np.random.default_rng(1).normal(mean, sigma, 125)))
    characteristic.chart_kind = "imr"
    characteristic.save()
    frozen = login(quality_engineer).post(
        reverse("api-spc-freeze", args=[characteristic.pk]), {"baseline_size": 125}, content_type="application/json"
    )
    assert frozen.status_code in (200, 201), frozen.content
    add_values([mean, mean + 10 * sigma])
    call_command("watch_spc", "--once")
    cell_id = characteristic.station.cell_id
    code = characteristic.part_type.code
    portuguese = andon(reader("joao", "pt-br"), cell_id)
    english = andon(reader("sam", None), cell_id)
    assert portuguese["spc"].startswith(f"CEP {code} bore_diameter em dimensional: ")
    assert english["spc"].startswith(f"SPC {code} bore_diameter @ dimensional: ")
    [nelson_1] = Alarm.objects.filter(rule="spc", evidence__rule="nelson_1")
    assert client_text(reader("ana", "pt-br"), cell_id, nelson_1.pk) == (
        f"CEP {code} bore_diameter em dimensional: 1 ponto além de 3σ (Nelson 1, Western Electric 1)"
    )
    assert (
        nelson_1.message == f"SPC {code} bore_diameter @ dimensional: 1 point beyond 3σ (Nelson 1, Western Electric 1)"
    )


def client_text(client: Client, cell_id: int, alarm_id: int) -> str:
    state = client.get(reverse("cell-state", args=[cell_id])).json()
    return next(row["text"] for row in state["alarms"] if row["id"] == alarm_id)
