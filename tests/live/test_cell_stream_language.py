"""The snapshot the cell WebSocket pushes speaks the page's language: the user's own (profile), else the browser's
Accept-Language, else English. Through the real ASGI application, as a browser connects."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction

from accounts.models import UserPreference
from live import actions as alarm_actions
from live.alarm_texts import AlarmText, nested
from live.choices import AlarmRule
from tests.live.test_cell_stream import ORIGIN, next_event, next_frame, session_cookie
from tests.support import factories
from traceability import roles
from twinweb.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
PT_LABEL = "Eventos do CLP perdidos no link da célula"
EN_LABEL = "PLC events lost on the cell link"
GAP = AlarmText(
    "%(count)s PLC event(s) lost at %(station)s (%(reason)s)", {"count": 3, "station": "load", "reason": "?"}
)


@pytest.fixture(autouse=True)
async def close_worker_thread_connections() -> Any:
    yield
    await database_sync_to_async(connections.close_all)()


def cell_with_an_alarm() -> Any:
    cell = factories.make_cell(code=f"lang-{factories.unique('c')}")
    with transaction.atomic():
        alarm_actions.raise_event_alarm(cell, rule=AlarmRule.LINK_GAP, station=None, text=GAP, evidence={"lost": 3})
    return cell


async def alarm_label(cell: Any, user: Any, accept_language: str | None = None) -> str:
    headers = [ORIGIN, await sync_to_async(session_cookie)(user)]
    if accept_language:
        headers.append((b"accept-language", accept_language.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/cells/{cell.pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    frame = await next_frame(communicator)
    await communicator.disconnect()
    assert frame["type"] == "snapshot"
    [alarm] = frame["state"]["alarms"]
    return str(alarm["rule_label"])


async def test_it_sends_the_snapshot_in_the_users_own_language() -> None:
    cell = await sync_to_async(cell_with_an_alarm)()
    joao = await sync_to_async(factories.make_user)("joao", roles.SUPERVISOR)
    await sync_to_async(UserPreference.objects.create)(user=joao, language="pt-br")
    assert await alarm_label(cell, joao, "en-US,en;q=0.9") == PT_LABEL


async def test_it_follows_the_browser_without_a_preference_and_defaults_to_english() -> None:
    cell = await sync_to_async(cell_with_an_alarm)()
    sam = await sync_to_async(factories.make_user)("sam", roles.SUPERVISOR)
    assert await alarm_label(cell, sam, "pt-BR,pt;q=0.9") == PT_LABEL
    assert await alarm_label(cell, sam) == EN_LABEL


async def connect(cell: Any, user: Any, accept_language: str) -> WebsocketCommunicator:
    headers = [ORIGIN, await sync_to_async(session_cookie)(user), (b"accept-language", accept_language.encode())]
    communicator = WebsocketCommunicator(application, f"/ws/cells/{cell.pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert (await next_frame(communicator))["type"] == "snapshot"
    return communicator


async def test_it_words_an_alarm_raised_outside_any_request_in_each_connections_language() -> None:
    """The alarm is raised by a watcher (no request, no reader's language); each socket gets its own words."""
    cell = await sync_to_async(factories.make_cell)(code=f"lang-{factories.unique('c')}")
    joao = await sync_to_async(factories.make_user)("joao", roles.SUPERVISOR)
    await sync_to_async(UserPreference.objects.create)(user=joao, language="pt-br")
    sam = await sync_to_async(factories.make_user)("sam", roles.SUPERVISOR)
    portuguese = await connect(cell, joao, "en-US,en;q=0.9")
    english = await connect(cell, sam, "en-US,en;q=0.9")
    reason = nested("not in the PLC's buffer of %(buffer_size)s any more", buffer_size=8)
    text = AlarmText(GAP.code, {"count": 6, "station": "load", "reason": reason})

    def raise_gap() -> None:
        with transaction.atomic():
            alarm_actions.raise_event_alarm(cell, rule=AlarmRule.LINK_GAP, station=None, text=text, evidence={})

    await sync_to_async(raise_gap)()
    pt_alarm = (await next_event(portuguese))["event"]["alarm"]
    en_alarm = (await next_event(english))["event"]["alarm"]
    await portuguese.disconnect()
    await english.disconnect()
    assert pt_alarm["text"] == "6 evento(s) do CLP perdido(s) em load (fora do buffer do CLP de 8 eventos)"
    assert en_alarm["text"] == "6 PLC event(s) lost at load (not in the PLC's buffer of 8 any more)"
    assert pt_alarm["message"] == en_alarm["message"] == en_alarm["text"], "the English message is kept"
