"""`python manage.py redis_acl --out /etc/redis/users.acl --server --all-devices`: the production Redis users.

Writes (or updates) a Redis ACL file (inspection/broker_acl.py): the default user off, the server's user, and a
user per edge device that may push onto `ingest` and consume its own queues, nothing else. Each user named on
the command line gets a new random password: the file holds only its SHA-256, and the connection URL with the
password is printed this once (REDIS_URL for the server, TWINWEB_BROKER_URL for a device). Users not named keep
their line. Load it with `aclfile /etc/redis/users.acl` in redis.conf, then `ACL LOAD` after each change.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inspection.broker_acl import DEFAULT_USER_OFF, RedisUser, device_user, server_user
from inspection.models import EdgeDevice


def connection_url(user: RedisUser, *, host: str, port: int, ca: str, tls: bool = True) -> str:
    scheme, query = ("rediss", f"?ssl_cert_reqs=required&ssl_ca_certs={quote(ca)}") if tls else ("redis", "")
    return f"{scheme}://{quote(user.name)}:{quote(user.password)}@{host}:{port}/0{query}"


def updated_acl(existing: str, users: list[RedisUser]) -> str:
    """The ACL file with these users' lines replaced (or added), the default user off, other lines kept."""
    names = {u.name for u in users} | {"default"}
    kept = [
        line
        for line in existing.splitlines()
        if line.strip() and not (line.split()[:1] == ["user"] and line.split()[1:2] and line.split()[1] in names)
    ]
    return "\n".join([DEFAULT_USER_OFF, *kept, *[u.acl_line() for u in users]]) + "\n"


class Command(BaseCommand):
    help = "Write the production Redis ACL users (server, edge devices) and print their URLs once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="the ACL file to write or update (mode 0600)")
        parser.add_argument("--server", action="store_true", help="(re)create the server's user")
        parser.add_argument("--device", action="append", default=[], help="(re)create this device's user (repeat)")
        parser.add_argument("--all-devices", action="store_true", help="(re)create every registered device's user")
        parser.add_argument("--host", default="redis.plant.example", help="Redis host name in the printed URLs")
        parser.add_argument("--port", type=int, default=6380, help="Redis TLS port in the printed URLs")
        parser.add_argument("--ca", default="/etc/twinweb/redis-ca.pem", help="CA certificate path in the URLs")

    def handle(self, *args: Any, **options: Any) -> None:
        devices = (
            list(EdgeDevice.objects.select_related("cell").order_by("device_id")) if options["all_devices"] else []
        )
        for device_id in options["device"]:
            device = EdgeDevice.objects.select_related("cell").filter(device_id=device_id).first()
            if device is None:
                raise CommandError(f"no edge device {device_id!r}")
            devices.append(device)
        users = [server_user()] if options["server"] else []
        users += [device_user(d.device_id, d.cell.code if d.cell else None) for d in devices]
        if not users:
            raise CommandError("name the users to create: --server, --device ID or --all-devices")
        out = Path(options["out"])
        existing = out.read_text() if out.exists() else ""
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".users.acl.")
        with os.fdopen(fd, "w") as handle:  # mkstemp: mode 0600 from the start
            handle.write(updated_acl(existing, users))
        os.replace(tmp, out)
        self.stdout.write(f"Wrote {out} ({len(users)} user(s) with new passwords). Their URLs, shown this once:")
        for user in users:
            self.stdout.write(
                f"  {user.name}: {connection_url(user, host=options['host'], port=options['port'], ca=options['ca'])}"
            )
        self.stdout.write(
            "Then: redis-cli ... ACL LOAD (the server's user may not; use an admin user or restart Redis)."
        )
