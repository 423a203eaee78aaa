"""`python manage.py run_cell_plc`: the demo cell's simulated PLC, an OPC UA server (demo/plc.py). The twin sees
it only through `run_cell_gateway`, as it would a real PLC."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.plc import DEMO_STATIONS, PlcConfig, ServerSecurity, SimulatedPLC, lots_string
from demo.simulator import BILL_OF_MATERIALS
from traceability.choices import LotStatus
from traceability.models import MaterialLot, Station


def demo_lots(part_types: tuple[str, ...], seed: int) -> dict[str, str]:
    """What the operator loads with each part type: the first released lot of each material of its bill."""
    out = {}
    for code in part_types:
        lots = []
        for material, quantity in BILL_OF_MATERIALS.get(code, []):
            lot = (
                MaterialLot.objects.filter(material__code=material, status=LotStatus.RELEASED)
                .order_by("lot_key")
                .first()
            )
            if lot is not None:
                lots.append((lot.lot_key, str(Decimal(quantity))))
        out[code] = lots_string(lots)
    return out


class Command(BaseCommand):
    help = "Serve the demo cell as a simulated PLC over OPC UA (stations, cycles, faults, the cobot)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cell", default="ac-cell-1")
        parser.add_argument("--endpoint", default="opc.tcp://127.0.0.1:4840/twinweb/")
        parser.add_argument("--cycle", type=float, default=15.0, help="Cycle time in seconds (default 15).")
        parser.add_argument("--speed", type=float, default=1.0, help="Speed-up factor (default 1: real time).")
        parser.add_argument("--parts", type=int, default=None, help="Parts to load, then drain and stop.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--fault-rate", type=float, default=0.0, help="Share of takts with a station jam.")
        parser.add_argument("--buffer", type=int, default=32, help="Events kept per station (the result buffer).")
        parser.add_argument(
            "--result-timeout", type=float, default=60.0, help="Seconds the line holds a part for the twin's verdict."
        )
        parser.add_argument(
            "--security",
            default="",
            help="<cert.der>,<key.pem>,<trusted client certs folder>: Basic256Sha256 SignAndEncrypt.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["speed"] <= 0 or options["cycle"] <= 0:
            raise CommandError("--cycle and --speed must be positive")
        stations = tuple(
            (s.code, s.kind) for s in Station.objects.filter(cell__code=options["cell"]).order_by("position")
        )
        if not stations:
            raise CommandError(f"cell {options['cell']} has no stations (run `python manage.py seed_demo` first?)")
        security = None
        if options["security"]:
            cert, key, trusted = options["security"].split(",")
            security = ServerSecurity(Path(cert), Path(key), Path(trusted))
        part_types = ("CF-80", "TF-12")
        config = PlcConfig(
            cell_code=options["cell"],
            endpoint=options["endpoint"],
            stations=stations or DEMO_STATIONS,
            cycle_s=options["cycle"],
            speed=options["speed"],
            parts=options["parts"],
            seed=options["seed"],
            fault_rate=options["fault_rate"],
            buffer_size=options["buffer"],
            result_timeout_s=options["result_timeout"],
            part_types=part_types,
            lots=demo_lots(part_types, options["seed"]),
            security=security,
        )
        self.stdout.write(
            f"Simulated PLC for {config.cell_code} on {config.endpoint}: takt {config.takt_s:.2f} s. Ctrl-C stops."
        )
        asyncio.run(self._run(config))

    async def _run(self, config: PlcConfig) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        plc = SimulatedPLC(config)
        await plc.start()
        try:
            await plc.run(stop)
        finally:
            await plc.stop()
        self.stdout.write(f"{len(plc.finished)} part(s) left the cell.")
