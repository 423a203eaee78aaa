"""`python manage.py issue_edge_secret --device ID`: a new secret for an edge device, printed once.

For provisioning scripts: `--quiet` prints the secret alone, e.g.

    ssh jetson-line3-01 'umask 077 && cat > /etc/twinweb/edge.secret' \
        < <(python manage.py issue_edge_secret --device jetson-line3-01 --quiet)

The secret it replaces stays valid for TWINWEB_EDGE_SECRET_GRACE_S (time to restart the device with the new
one); `--revoke-previous` ends it now (a secret that leaked). The issue is audited; the secret is stored nowhere.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inspection.actions.edge_auth import issue_edge_secret
from inspection.models import EdgeDevice


class Command(BaseCommand):
    help = "Issue a new secret for an edge device and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--device", required=True, help="the edge device id")
        parser.add_argument(
            "--revoke-previous",
            action="store_true",
            help="end the previous secret now instead of after the grace period",
        )
        parser.add_argument("--actor", default="", help="username the audit record names (default: the system)")
        parser.add_argument("--quiet", action="store_true", help="print the secret alone")

    def handle(self, *args: Any, **options: Any) -> None:
        device = EdgeDevice.objects.filter(device_id=options["device"]).first()
        if device is None:
            raise CommandError(f"no edge device {options['device']!r}: register it in the admin first")
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"no user {options['actor']!r}")
        issued = issue_edge_secret(device, actor=actor, revoke_previous=options["revoke_previous"])
        if options["quiet"]:
            self.stdout.write(issued.secret.text())
            return
        self.stdout.write(
            f"New secret for edge device {device.device_id} (key id {issued.secret.kid}). It is shown "
            "this once; put it on the device as TWINWEB_EDGE_SECRET or in TWINWEB_EDGE_SECRET_FILE:"
        )
        self.stdout.write(issued.secret.text())
        for old in issued.replaced:
            assert old.expires_at is not None
            self.stdout.write(f"Secret {old.kid} stays valid until {old.expires_at.isoformat()}.")
