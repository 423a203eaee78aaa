"""A device gets its models over signed HTTP from the registry and installs only the bytes the server's signed
answer names: a tampered or truncated download is refused with the reason, and a device that was offline when the
model was deployed picks it up when it next asks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_worker.contracts import model_delivery as md
from edge_worker.model_update import installed_sha256
from modelops import actions
from modelops.choices import DeployStatus
from modelops.errors import ModelRefused
from modelops.models import DeployIntent
from tests.modelops.support import PASSWORD, client, device_of, other_version, shipped_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_it_installs_the_deployed_model_and_reports_it(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    actions.assign_alias(
        version, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="first champion"
    )

    outcome = client(live_server.url, credentials, tmp_path / "edge").sync()

    assert [d["sha256"] for d in outcome.installed] == [version.sha256] and not outcome.refused
    assert installed_sha256(tmp_path / "edge") == {"champion": version.sha256}
    intent = DeployIntent.objects.get(device=device)
    assert intent.status == DeployStatus.INSTALLED and intent.offered_at is not None
    # Nothing pending any more: the next heartbeat installs nothing.
    assert client(live_server.url, credentials, tmp_path / "edge").sync().installed == []


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda b: b[:100] + bytes([b[100] ^ 0xFF]) + b[101:], "sha256 mismatch"),
        (lambda b: b[: len(b) // 2], "truncated"),
    ],
)
def test_it_refuses_a_tampered_or_truncated_download(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path, damage: Any, reason: str
) -> None:
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    actions.assign_alias(
        version, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="first champion"
    )
    stored = media / version.file
    stored.write_bytes(damage(stored.read_bytes()))  # what a man in the middle (or a bad disk) would serve

    outcome = client(live_server.url, credentials, tmp_path / "edge").sync()

    assert outcome.installed == [] and reason in outcome.refused[0]["reason"]
    assert installed_sha256(tmp_path / "edge") == {}  # nothing half-installed
    intent = DeployIntent.objects.get(device=device)
    assert intent.status == DeployStatus.REFUSED and reason in intent.reason


def test_a_device_offline_during_the_deploy_picks_it_up_when_it_returns(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    actions.assign_alias(
        version,
        cell=cell,
        alias="champion",
        actor=quality_engineer,
        credential=PASSWORD,
        reason="deployed while the device is down",
    )
    # The device is unreachable and so is the server from it: the intent waits on the server.
    offline = client("http://127.0.0.1:9/", credentials, tmp_path / "edge").sync()
    assert offline.offline and offline.installed == []
    intent = DeployIntent.objects.get(device=device)
    assert intent.status == DeployStatus.PENDING and intent.offered_at is None

    back = client(live_server.url, credentials, tmp_path / "edge").sync()  # on start or the next heartbeat

    assert [d["sha256"] for d in back.installed] == [version.sha256]
    assert installed_sha256(tmp_path / "edge") == {"champion": version.sha256}


def test_a_newer_deploy_supersedes_one_the_device_never_fetched(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    device, credentials = device_of(cell, quality_engineer)
    first, second = shipped_version(quality_engineer), other_version(quality_engineer, "b")
    for version in (first, second):
        actions.assign_alias(
            version, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="changed my mind"
        )
    outcome = client(live_server.url, credentials, tmp_path / "edge").sync()
    assert [d["sha256"] for d in outcome.installed] == [second.sha256]
    assert DeployIntent.objects.get(device=device, version=first).status == DeployStatus.SUPERSEDED
    with pytest.raises(ModelRefused, match="already is the champion"):
        actions.assign_alias(
            second, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="again"
        )


def test_it_refuses_requests_not_signed_by_a_registered_device(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    import urllib.error
    import urllib.request

    from edge_worker.contracts.signing import DeviceSecret
    from edge_worker.credentials import Credentials

    device, credentials = device_of(cell, quality_engineer)
    shipped_version(quality_engineer)
    unsigned = urllib.request.Request(
        live_server.url + "/" + md.PATHS[md.DEPLOYMENT_TASK],
        data=json.dumps({"device_id": device.device_id}).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(unsigned, timeout=10)
    assert caught.value.code == 403 and b"unsigned" in caught.value.read()

    impostor = Credentials(device.device_id, DeviceSecret.generate())
    with pytest.raises(urllib.error.HTTPError) as caught:
        client(live_server.url, impostor, tmp_path / "edge").sync()
    assert caught.value.code == 403


def test_a_model_file_missing_on_the_server_is_refused_not_half_installed(
    cell: Any, quality_engineer: Any, live_server: Any, media: Path, tmp_path: Path
) -> None:
    device, credentials = device_of(cell, quality_engineer)
    version = shipped_version(quality_engineer)
    actions.assign_alias(
        version, cell=cell, alias="champion", actor=quality_engineer, credential=PASSWORD, reason="first champion"
    )
    (media / version.file).unlink()
    outcome = client(live_server.url, credentials, tmp_path / "edge").sync()
    assert "HTTP 404" in outcome.refused[0]["reason"] and installed_sha256(tmp_path / "edge") == {}
    assert DeployIntent.objects.get(device=device).status == DeployStatus.REFUSED
