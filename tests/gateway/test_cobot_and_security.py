"""The cobot over OPC UA (Debug Mode's commands become method calls on the cobot's node; the call's return is its
completion) and the link's security (Basic256Sha256 + SignAndEncrypt, certificates from files)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto import cert_gen
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.test import override_settings
from django.utils import timezone

from demo.plc import ServerSecurity
from gateway.choices import IncidentKind
from gateway.link import ClientSecurity, LinkError
from gateway.models import CycleRecord, LinkIncident
from review.choices import CobotCommandKind
from review.models import CobotCommand
from tests.gateway.conftest import plc_config, running_link

pytestmark = [pytest.mark.e2e]


def command(cell: Any, kind: str = CobotCommandKind.PRESENT_VIEW) -> CobotCommand:
    command_id = uuid.uuid4()
    payload = (
        {"serial": "CF-80-X1", "finding_name": "bore_diameter", "bbox": [10, 20, 30, 40]}
        if kind == CobotCommandKind.PRESENT_VIEW
        else {"serial": "CF-80-X1", "destination": "scrap"}
    )
    return CobotCommand.objects.create(
        command_id=command_id, cell=cell, kind=kind, payload=payload, sent_at=timezone.now()
    )


@override_settings(TWINWEB_COBOT_LINK="opcua")
async def test_it_sends_debug_modes_cobot_commands_as_method_calls_and_records_completion(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    async with running_link(cell, part_type) as link:
        present = await asyncio.to_thread(command, cell)
        move = await asyncio.to_thread(command, cell, CobotCommandKind.MOVE_PART)
        await link.until(lambda: not CobotCommand.objects.filter(acked_at__isnull=True).exists(), what="both acks")
    assert [c[0] for c in link.plc.cobot_commands] == ["PresentView", "MovePart"]
    assert link.plc.cobot_commands[0][1:] == (str(present.command_id), "CF-80-X1", "bore_diameter", "10,20,30,40")
    assert link.plc.cobot_commands[1][1:] == (str(move.command_id), "CF-80-X1", "scrap")
    done = await asyncio.to_thread(lambda: list(CobotCommand.objects.values_list("ack__status", flat=True)))
    assert done == ["done", "done"]


@override_settings(TWINWEB_COBOT_LINK="opcua")
async def test_it_shows_a_cobot_that_never_completes_as_failed(plc_cell: Any) -> None:
    cell, part_type = plc_cell
    config = await asyncio.to_thread(plc_config, cell, cobot_answers=False)
    async with running_link(cell, part_type, plc=config, gateway={"cobot_timeout_s": 0.5}) as link:
        sent = await asyncio.to_thread(command, cell)
        await link.until(lambda: CobotCommand.objects.filter(acked_at__isnull=False).exists(), what="the failure")
    failed = await asyncio.to_thread(lambda: CobotCommand.objects.get(pk=sent.pk))
    assert failed.ack["status"] == "failed"
    assert failed.ack["detail"] == "the cobot did not complete PresentView within 0.5 s"
    assert await asyncio.to_thread(lambda: LinkIncident.objects.filter(kind=IncidentKind.COBOT_FAILED).count()) == 1


# --- security ---------------------------------------------------------------------------------------------------


def certificate(folder: Path, name: str, uri: str, *, server: bool) -> tuple[Path, Path]:
    """A self-signed application certificate (DER) and key (PEM) whose SubjectAltName carries `uri`."""
    key = cert_gen.generate_private_key()
    usage = [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        uri,
        {},
        [cert_gen.x509.UniformResourceIdentifier(uri), cert_gen.x509.DNSName(socket.gethostname())],
        extended=usage,
        days=30,
    )
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    key_path.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return cert_path, key_path


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Any]:
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    plc_cert, plc_key = certificate(tmp_path, "plc", "urn:twinweb:test-plc", server=True)
    gateway_cert, gateway_key = certificate(tmp_path, "gateway", "urn:twinweb:gateway", server=False)
    stranger_cert, stranger_key = certificate(tmp_path, "stranger", "urn:twinweb:gateway", server=False)
    (trusted / "gateway.der").write_bytes(gateway_cert.read_bytes())
    return {
        "server": ServerSecurity(plc_cert, plc_key, trusted),
        "plc_cert": plc_cert,
        "gateway": (gateway_cert, gateway_key),
        "stranger": (stranger_cert, stranger_key),
    }


async def test_it_links_with_sign_and_encrypt_when_the_plc_trusts_the_gateways_certificate(
    plc_cell: Any, pki: dict[str, Any]
) -> None:
    cell, part_type = plc_cell
    config = await asyncio.to_thread(plc_config, cell, security=pki["server"])
    cert, key = pki["gateway"]
    security = ClientSecurity(certificate=cert, private_key=key, server_certificate=pki["plc_cert"])
    async with running_link(cell, part_type, plc=config, gateway={"security": security}) as link:
        await link.plc.tick()
        await link.until(lambda: CycleRecord.objects.filter(station__code="load").exists(), what="an encrypted event")


async def test_it_refuses_to_link_with_a_certificate_the_plc_does_not_trust_and_says_why(
    plc_cell: Any, pki: dict[str, Any]
) -> None:
    cell, part_type = plc_cell
    config = await asyncio.to_thread(plc_config, cell, security=pki["server"])
    cert, key = pki["stranger"]
    security = ClientSecurity(certificate=cert, private_key=key, server_certificate=pki["plc_cert"])
    async with running_link(cell, part_type, plc=config, gateway={"security": security}, start_gateway=False) as link:
        with pytest.raises(LinkError, match="certificate"):
            await asyncio.wait_for(link.gateway.run(asyncio.Event()), timeout=20)
    assert not await asyncio.to_thread(lambda: CycleRecord.objects.exists())


async def test_it_refuses_an_anonymous_connection_to_a_plc_that_requires_encryption(
    plc_cell: Any, pki: dict[str, Any]
) -> None:
    cell, part_type = plc_cell
    config = await asyncio.to_thread(plc_config, cell, security=pki["server"])
    async with running_link(cell, part_type, plc=config, start_gateway=False) as link:
        with pytest.raises(LinkError, match="security policy"):
            await asyncio.wait_for(link.gateway.run(asyncio.Event()), timeout=20)


def test_it_names_a_missing_certificate_file(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match="the certificate file .*missing.der does not exist"):
        ClientSecurity(certificate=tmp_path / "missing.der", private_key=tmp_path / "k.pem")
