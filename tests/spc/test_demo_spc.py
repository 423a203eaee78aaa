"""The demo's history (seeded through the real ingest path) gives every measured feature a characteristic, the
worn bore frozen limits, and its tool wear fires a run rule on the live view once the SPC watcher has run."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from live.models import Alarm
from spc.models import Characteristic, ControlLimits, RuleViolation


@pytest.mark.django_db(transaction=True)
def test_it_fires_a_run_rule_on_the_demos_tool_wear(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", parts=1000)
    assert Characteristic.objects.filter(feature__name="outer_diameter").exists()
    frozen = ControlLimits.objects.filter(superseded_at__isnull=True)
    assert frozen.exists() and all(limits.characteristic.feature.name == "bore_diameter" for limits in frozen)
    call_command("watch_spc", "--once")
    bore = RuleViolation.objects.filter(characteristic__feature__name="bore_diameter")
    assert bore.exists()
    assert Alarm.objects.filter(rule="spc", cleared_at__isnull=True, message__contains="bore_diameter").exists()
