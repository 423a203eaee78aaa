"""The device's identity on the wire: which device it is and the secret it signs with, from the environment only
(the device has no database):

    TWINWEB_EDGE_DEVICE               the device id (its queue is `edge.<device id>`)        default jetson-demo-01
    TWINWEB_EDGE_SECRET               the secret issued for the device in the server's admin (or by
                                      `manage.py issue_edge_secret --device ID`): `twe1_...`
    TWINWEB_EDGE_SECRET_FILE          or a file holding it (e.g. /etc/twinweb/edge.secret, readable by the worker only)
    TWINWEB_COBOT_COMMAND_MAX_AGE_S   a cobot command older than this is refused                       default 600
    TWINWEB_EDGE_CLOCK_SKEW_S         ... and one stamped further than this in the future              default 300

Every message the device sends is signed (edge_worker.contracts.signing); every cobot command it receives is
verified before anything moves. A worker without a secret does not start: everything it sent would be refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_worker.celery_app import EdgeConfigError
from edge_worker.celery_app import device_id_from_env as _device_id
from edge_worker.contracts.signing import DeviceSecret, sign

DEFAULT_COMMAND_MAX_AGE_S = 600.0
DEFAULT_CLOCK_SKEW_S = 300.0


@dataclass(frozen=True)
class Credentials:
    device_id: str
    secret: DeviceSecret

    def sign(self, body: Mapping[str, Any], task: str) -> dict[str, Any]:
        """`body` signed as this device sends it as `task`."""
        return sign(body, task=task, device_id=self.device_id, secret=self.secret)


def device_id_from_env(environ: Mapping[str, str] | None = None) -> str:
    return _device_id(os.environ if environ is None else environ)


def secret_from_env(environ: Mapping[str, str] | None = None) -> DeviceSecret:
    env = os.environ if environ is None else environ
    text = env.get("TWINWEB_EDGE_SECRET", "").strip()
    source = "TWINWEB_EDGE_SECRET"
    path = env.get("TWINWEB_EDGE_SECRET_FILE", "").strip()
    if not text and path:
        source = f"TWINWEB_EDGE_SECRET_FILE ({path})"
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise EdgeConfigError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if not text:
        raise EdgeConfigError(
            "no device secret: set TWINWEB_EDGE_SECRET (or TWINWEB_EDGE_SECRET_FILE) to the secret issued for this "
            "device in the server's admin (Edge devices > Issue a new secret) or by "
            "`python manage.py issue_edge_secret --device ID`"
        )
    try:
        return DeviceSecret.parse(text)
    except ValueError as exc:
        raise EdgeConfigError(f"{source} is not a device secret: {exc}") from None


def credentials_from_env(environ: Mapping[str, str] | None = None) -> Credentials:
    """This device's id and secret; EdgeConfigError saying what to set when the secret is missing or unusable."""
    return Credentials(device_id_from_env(environ), secret_from_env(environ))


def _seconds(environ: Mapping[str, str] | None, name: str, default: float) -> float:
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EdgeConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise EdgeConfigError(f"{name} must be positive, got {value}")
    return value


def command_max_age_s(environ: Mapping[str, str] | None = None) -> float:
    return _seconds(environ, "TWINWEB_COBOT_COMMAND_MAX_AGE_S", DEFAULT_COMMAND_MAX_AGE_S)


def clock_skew_s(environ: Mapping[str, str] | None = None) -> float:
    return _seconds(environ, "TWINWEB_EDGE_CLOCK_SKEW_S", DEFAULT_CLOCK_SKEW_S)
