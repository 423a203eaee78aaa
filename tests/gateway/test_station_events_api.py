"""The second way in: a line controller or MES posts station events over HTTP, with the PLC buffer's meaning and
idempotency (station, source, sequence), authenticated, and refused with the reason when unusable."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from gateway.models import CycleRecord
from inspection.models import DeadLetter
from tests.support import factories
from traceability.choices import PartStatus
from traceability.models import Part, StationEvent

START = "2026-12-06T08:00:00Z"


@pytest.fixture
def line_controller(db: Any) -> APIClient:
    user = factories.make_user("mes-line-1", None)
    user.user_permissions.add(Permission.objects.get(codename="add_cyclerecord"))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_cell(db: Any) -> Any:
    cell = factories.make_cell(code="api-cell")
    factories.make_part_type(code="CF-80")
    return cell


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "station": "load",
        "source": "mes-epoch-1",
        "sequence": 1,
        "kind": "CycleStart",
        "serial": "CF-80-API-1",
        "part_type": "CF-80",
        "start_time": START,
        **overrides,
    }


def test_it_registers_a_part_loaded_by_a_posted_cycle_start(line_controller: APIClient, api_cell: Any) -> None:
    response = line_controller.post("/api/cells/api-cell/station-events/", event(), format="json")
    assert response.status_code == 201, response.json()
    part = Part.objects.get(serial="CF-80-API-1")
    assert part.status == PartStatus.IN_PROCESS
    assert StationEvent.objects.get(part=part).station.code == "load"


def test_it_stores_a_reposted_event_once(line_controller: APIClient, api_cell: Any) -> None:
    for _ in range(3):
        line_controller.post("/api/cells/api-cell/station-events/", event(), format="json")
    ends = [
        line_controller.post(
            "/api/cells/api-cell/station-events/",
            event(sequence=2, kind="CycleEnd", end_time="2026-12-06T08:00:12Z", outcome="OK"),
            format="json",
        ).status_code
        for _ in range(2)
    ]
    assert ends == [201, 200]
    assert CycleRecord.objects.count() == 2
    assert StationEvent.objects.get().outcome == "ok"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"serial": "X" * 61}, "Serial: 61 characters, longer than 60"),
        ({"kind": "CycleMiddle"}, "Kind: 'CycleMiddle' is not CycleStart or CycleEnd"),
        ({"kind": "CycleEnd", "outcome": "MAYBE", "end_time": START}, "Outcome: 'MAYBE' is not OK or NOK"),
        ({"part_type": "ZZ-9"}, "PartType: 'ZZ-9' is not a part type in TwinWeb"),
    ],
)
def test_it_refuses_an_unusable_event_with_the_reason_and_keeps_it(
    line_controller: APIClient, api_cell: Any, change: dict[str, Any], reason: str
) -> None:
    response = line_controller.post("/api/cells/api-cell/station-events/", event(**change), format="json")
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert reason in DeadLetter.objects.get().detail
    assert not Part.objects.exists()


def test_it_refuses_an_unknown_station(line_controller: APIClient, api_cell: Any) -> None:
    response = line_controller.post("/api/cells/api-cell/station-events/", event(station="paint"), format="json")
    assert (response.status_code, response.json()["detail"]) == (400, "cell api-cell has no station 'paint'")


def test_it_lets_only_a_line_controllers_account_post(api_cell: Any, operator: Any) -> None:
    anonymous = APIClient().post("/api/cells/api-cell/station-events/", event(), format="json")
    assert anonymous.status_code in (401, 403)
    client = APIClient()
    client.force_authenticate(operator)
    assert client.post("/api/cells/api-cell/station-events/", event(), format="json").status_code == 403
    assert not CycleRecord.objects.exists()
