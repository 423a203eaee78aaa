"""An alarm's words, stored as a msgid and its parameters and rendered in the reader's language.

Alarms are raised outside requests (the andon and SPC watchers, the cell link), so no reader's language is known
when they are written. Each keeps its msgid (marked with gettext_noop where it is written, so makemessages finds
it) and its parameters beside the English rendering (`Alarm.message`, which logs, the API and the audit trail
keep); pages and the live stream render the msgid in the language of whoever reads it.

A parameter is a string or an int, inserted as is; a float, written with one decimal in the reader's locale; or
a nested text `{"msgid": ..., "params": {...}}` (a rule's name, a reason), translated too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, translation
from django.utils.translation import gettext

MESSAGE_MAX_LENGTH = 300  # Alarm.message


@dataclass(frozen=True)
class AlarmText:
    code: str  # the msgid, English
    params: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """In the active language."""
        return render(self.code, self.params)

    def english(self) -> str:
        """What Alarm.message stores."""
        with translation.override("en"):
            return render(self.code, self.params)[:MESSAGE_MAX_LENGTH]


def nested(msgid: str, **params: Any) -> dict[str, Any]:
    """A parameter that is itself a text to translate."""
    return {"msgid": msgid, "params": params}


def render(code: str, params: dict[str, Any]) -> str:
    """`code` translated into the active language, its parameters put in. A msgid whose translation does not
    take the parameters (a bad catalog entry) falls back to the English words rather than failing the page."""
    values = {name: _value(value) for name, value in params.items()}
    try:
        return gettext(code) % values
    except (KeyError, TypeError, ValueError):
        return code % values


def _value(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("msgid"), str):
        return render(value["msgid"], value.get("params") or {})
    if isinstance(value, float):
        return formats.number_format(value, 1)
    return value
