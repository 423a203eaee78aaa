"""`python manage.py run_cell_gateway --cell <code>`: the cell's OPC UA link, a long-running asyncio process.

--endpoint opc.tcp://plc:4840/     the PLC (default TWINWEB_PLC_ENDPOINT, else the demo's simulated PLC)
--security Basic256Sha256,SignAndEncrypt,<cert.der>,<key.pem>[,<plc cert.der>]
                                   (default TWINWEB_PLC_SECURITY; none only for a PLC on this machine, the demo)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway.link import CellGateway, ClientSecurity, GatewayConfig, LinkError

DEMO_ENDPOINT = "opc.tcp://127.0.0.1:4840/twinweb/"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def security_from_string(value: str, *, application_uri: str) -> ClientSecurity | None:
    """`Basic256Sha256,SignAndEncrypt,<certificate>,<private key>[,<server certificate>]`, or empty/none."""
    if not value or value.strip().lower() == "none":
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (4, 5) or parts[0] != "Basic256Sha256" or parts[1] != "SignAndEncrypt":
        raise CommandError(
            "--security: expected Basic256Sha256,SignAndEncrypt,<cert.der>,<key.pem>[,<plc cert.der>] "
            f"(the only policy TwinWeb accepts for a remote PLC), got {value!r}"
        )
    return ClientSecurity(
        certificate=Path(parts[2]),
        private_key=Path(parts[3]),
        server_certificate=Path(parts[4]) if len(parts) == 5 else None,
        application_uri=application_uri,
    )


class Command(BaseCommand):
    help = "Link a cell's PLC (OPC UA) to the twin: station events, capture triggers, verdicts and the cobot."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cell", required=True, help="Cell code (the cell object's BrowseName on the PLC).")
        parser.add_argument("--endpoint", default=os.environ.get("TWINWEB_PLC_ENDPOINT", DEMO_ENDPOINT))
        parser.add_argument("--security", default=os.environ.get("TWINWEB_PLC_SECURITY", ""))
        parser.add_argument(
            "--application-uri",
            default=os.environ.get("TWINWEB_PLC_APPLICATION_URI", "urn:twinweb:gateway"),
            help="Must equal the URI in the gateway certificate's SubjectAltName.",
        )
        parser.add_argument("--poll", type=float, default=1.0, help="Watchdog poll of the counters, seconds.")
        parser.add_argument(
            "--cobot-timeout",
            type=float,
            default=30.0,
            help="Seconds a cobot command may take before it is shown as failed.",
        )
        parser.add_argument(
            "--allow-anonymous-remote",
            action="store_true",
            help="Allow an unsecured link to a PLC on another machine (not for production).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("gateway").setLevel(logging.INFO)
        security = security_from_string(options["security"], application_uri=options["application_uri"])
        host = urlparse(options["endpoint"]).hostname or ""
        if security is None and host not in LOCAL_HOSTS and not options["allow_anonymous_remote"]:
            raise CommandError(
                f"{options['endpoint']} is not on this machine: configure --security "
                "(Basic256Sha256,SignAndEncrypt with certificates); anonymous access is for the "
                "embedded demo only"
            )
        config = GatewayConfig(
            cell=options["cell"],
            endpoint=options["endpoint"],
            security=security,
            poll_s=options["poll"],
            cobot_timeout_s=options["cobot_timeout"],
        )
        self.stdout.write(
            f"Cell gateway for {config.cell}: {config.endpoint} "
            f"({'Basic256Sha256/SignAndEncrypt' if security else 'no security: demo'}). Ctrl-C stops."
        )
        try:
            asyncio.run(self._run(config))
        except LinkError as exc:
            raise CommandError(str(exc)) from exc

    async def _run(self, config: GatewayConfig) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await CellGateway(config).run(stop)
