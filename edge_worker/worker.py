"""Start the edge device's Celery worker: `python -m edge_worker.worker --device jetson-demo-01`.

It consumes `edge.<device>` (and any extra queues, e.g. the cell's `cobot.<cell code>`) with the solo pool by
default, loads the classifier and the power monitor in this process once the worker is ready, and sends
telemetry (FPS, power, memory, temperature, GPU load where available) every few seconds.

The Celery app is the edge's own (edge_worker.celery_app), configured from the environment: the broker from
TWINWEB_BROKER_URL, CELERY_BROKER_URL or REDIS_URL, the device's secret from TWINWEB_EDGE_SECRET or
TWINWEB_EDGE_SECRET_FILE (edge_worker.credentials; it does not start without one). Nothing here imports Django
or the server.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import Any

log = logging.getLogger("edge_worker.worker")


def run_as_on_the_device() -> None:
    """Make this process what it is on the Jetson, where Django is not installed, even when the server's
    virtualenv runs it (the demo, the tests).

    Celery's Django fix-up sets Django up (settings, apps, ORM) when DJANGO_SETTINGS_MODULE is in the environment,
    so the variable goes. kombu and Celery also import `django.utils` opportunistically whenever it is installed;
    marking the package absent makes them take the path they take on the device, and makes any stray import of
    Django in the edge code fail here as it would there. Called before Celery is imported.
    """
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    if "django" not in sys.modules:
        sys.modules["django"] = None  # type: ignore[assignment]  # import django -> ModuleNotFoundError


class TelemetryLoop:
    """Sends the runtime's telemetry every `interval_s` on a daemon thread."""

    def __init__(self, app: Any, interval_s: float) -> None:
        self.app = app
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-telemetry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from edge_worker.runtime import get_runtime
        from edge_worker.tasks import send_telemetry

        runtime = get_runtime()
        sync_every = float(os.environ.get("TWINWEB_MODEL_SYNC_INTERVAL_S", "60"))
        last_sync = time.monotonic()
        while not self._stop.is_set():
            try:
                send_telemetry(runtime.telemetry(), self.app, expires_s=max(30.0, 6 * self.interval_s))
            except Exception as exc:  # the broker may be away; the next beat tries again
                log.warning("telemetry not sent: %s", exc)
            if time.monotonic() - last_sync >= sync_every:  # a deploy decided while we were offline lands here
                last_sync = time.monotonic()
                runtime.sync_models_in_background()
            self._stop.wait(self.interval_s)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=os.environ.get("TWINWEB_EDGE_DEVICE", "jetson-demo-01"))
    parser.add_argument("--queues", default="", help="Extra queues to consume, comma separated (e.g. cobot.ac-cell-1).")
    parser.add_argument("--pool", default="solo", choices=["solo", "threads"])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--telemetry-interval",
        type=float,
        default=float(os.environ.get("TWINWEB_TELEMETRY_INTERVAL_S", "5")),
        help="Seconds between telemetry messages; 0 disables them.",
    )
    parser.add_argument("--loglevel", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)

    run_as_on_the_device()
    os.environ["TWINWEB_EDGE_DEVICE"] = args.device
    os.environ["TWINWEB_EDGE_WORKER"] = "1"
    from celery.signals import worker_ready, worker_shutdown

    from edge_worker.celery_app import EdgeConfigError, create_app
    from edge_worker.contracts.queues import edge_queue
    from edge_worker.credentials import credentials_from_env

    try:
        app = create_app()
        credentials = credentials_from_env()  # everything the worker sends is signed: no secret, no start
    except EdgeConfigError as exc:
        parser.exit(2, f"edge worker: {exc}\n")

    loop = TelemetryLoop(app, args.telemetry_interval) if args.telemetry_interval > 0 else None

    @worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        from edge_worker.runtime import get_runtime

        runtime = get_runtime()  # this process runs the tasks (solo/threads): load the model here, now
        log.info(
            "edge worker %s ready (secret %s): %s; power %s",
            args.device,
            credentials.secret.kid,
            runtime.backend_reason,
            runtime.monitor.sampler.describe(),
        )
        runtime.sync_models_in_background()  # picks up a deploy made while offline (built and profiled aside)
        if loop is not None:
            loop.start()

    @worker_shutdown.connect(weak=False)
    def _shutdown(**_: Any) -> None:
        from edge_worker.runtime import reset_runtime

        if loop is not None:
            loop.stop()
        reset_runtime()

    queues = [edge_queue(args.device), *[q.strip() for q in args.queues.split(",") if q.strip()]]
    app.worker_main(
        [
            "worker",
            "--pool",
            args.pool,
            "--concurrency",
            str(args.concurrency),
            "--queues",
            ",".join(queues),
            "--hostname",
            f"edge-{args.device}@%h",
            "--loglevel",
            args.loglevel,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main()
