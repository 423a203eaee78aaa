"""Authenticated messages: how a device signs what it sends, and how the server signs the cobot's commands.

Every message a device sends (results, telemetry, refusals, cobot acknowledgements, profiling reports) carries an
`auth` object beside its own fields, which keep their wire keys:

    {"schema": 1, "result_id": "...", ..., "auth": {"v": 1, "device_id": "jetson-line3-01", "kid": "3f9a0c1d2e4b5a69",
                                                   "ts": "2026-03-01T08:00:01.005000+00:00", "nonce": "...",
                                                   "mac": "<64 hex digits>"}}

    mac = HMAC-SHA256(device secret, canonical JSON of {"dir": "edge->server", "v", "task", "device_id", "kid",
                                                       "ts", "nonce", "body"})

where `body` is the whole message without `auth`, and canonical JSON is sorted keys, no whitespace, ASCII only:
any change to any field, to the task it is sent as, to the device it claims or to its time breaks the MAC. The
receiver refuses a message whose `ts` is older than its maximum age, and remembers each nonce for that long, so a
message cannot be replayed later or re-used with other content.

A cobot command (server -> `cobot.<cell>`) carries `"auth": {"v": 1, "ts", "nonce", "macs": {kid: mac}}`: one MAC
per device secret of the cell in force (two during a rotation's grace period), each over {"dir": "server->edge",
"v", "task", "kid", "ts", "nonce", "body"}. The cobot checks the MAC made with its own secret before anything moves.
The direction is inside the MAC, so nothing one side signed can be passed off as the other's.

A device secret travels as text, `twe1_` and 43 base64url characters (32 random bytes); its key id (`kid`) is a
public fingerprint that names it in messages and in the admin.

Pure standard library (hmac, hashlib, secrets, json): this module runs on the Jetson and in the server.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from edge_worker.contracts.fields import Integer, MapOf, Message, MessageError, Text, Timestamp
from edge_worker.contracts.inspection import DEVICE_ID, utc_now

AUTH_KEY = "auth"
AUTH_VERSION = 1
SECRET_PREFIX = "twe1_"
SECRET_BYTES = 32
EDGE_TO_SERVER = "edge->server"
SERVER_TO_EDGE = "server->edge"

KID = Text(max_len=16, pattern="[0-9a-f]{16}", pattern_help="expected 16 lowercase hex digits")
NONCE = Text(max_len=64, pattern="[A-Za-z0-9_-]{16,64}", pattern_help="expected 16 to 64 base64url characters")
MAC = Text(max_len=64, pattern="[0-9a-f]{64}", pattern_help="expected 64 lowercase hex digits (HMAC-SHA256)")


class AuthError(ValueError):
    """A message is not authentic: unsigned, signed wrongly, too old, or replayed. `problem` says which."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


class DeviceSecret:
    """An edge device's secret key. Its repr shows the key id only, so it never lands in a log by accident."""

    __slots__ = ("key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != SECRET_BYTES:
            raise ValueError(f"a device secret is {SECRET_BYTES} bytes, got {len(key)}")
        self.key = key

    @classmethod
    def generate(cls) -> DeviceSecret:
        return cls(secrets.token_bytes(SECRET_BYTES))

    @classmethod
    def parse(cls, text: str) -> DeviceSecret:
        """The secret from its text form (`twe1_...`, as the admin shows it); ValueError naming the problem."""
        text = text.strip()
        if not text.startswith(SECRET_PREFIX):
            raise ValueError(f"a device secret starts with {SECRET_PREFIX!r} (as the admin shows it)")
        body = text.removeprefix(SECRET_PREFIX)
        try:
            key = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("a device secret is base64url after its prefix") from None
        if len(key) != SECRET_BYTES or cls(key).text() != text:
            raise ValueError(f"a device secret holds {SECRET_BYTES} bytes (43 base64url characters after the prefix)")
        return cls(key)

    def text(self) -> str:
        return SECRET_PREFIX + base64.urlsafe_b64encode(self.key).decode("ascii").rstrip("=")

    @property
    def kid(self) -> str:
        """A public fingerprint of the secret (it reveals nothing of the key)."""
        return hashlib.sha256(b"twinweb edge key id\x00" + self.key).hexdigest()[:16]

    def mac(self, content: bytes) -> str:
        return hmac.new(self.key, content, hashlib.sha256).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceSecret) and hmac.compare_digest(self.key, other.key)

    def __hash__(self) -> int:
        return hash(self.kid)

    def __repr__(self) -> str:
        return f"DeviceSecret(kid={self.kid})"


def canonical_json(value: Any) -> bytes:
    """The one byte string both sides MAC: sorted keys, no whitespace, ASCII only (Python's float repr is exact,
    so a number reads back to the same text on the other side)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def timestamp(now: dt.datetime | None = None) -> str:
    return (now or utc_now()).astimezone(dt.timezone.utc).isoformat()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


# --- Device -> server ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageAuth(Message):
    """The `auth` object of a device's message."""

    KIND: ClassVar[str] = "message authentication"

    v: Annotated[int, Integer(AUTH_VERSION, AUTH_VERSION)]
    device_id: Annotated[str, DEVICE_ID]
    kid: Annotated[str, KID]
    ts: Annotated[str, Timestamp(as_text=True)]
    nonce: Annotated[str, NONCE]
    mac: Annotated[str, MAC]

    @property
    def sent_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.ts)


def _device_content(body: Mapping[str, Any], *, task: str, device_id: str, kid: str, ts: str, nonce: str) -> bytes:
    return canonical_json(
        {
            "dir": EDGE_TO_SERVER,
            "v": AUTH_VERSION,
            "task": task,
            "device_id": device_id,
            "kid": kid,
            "ts": ts,
            "nonce": nonce,
            "body": body,
        }
    )


def sign(
    body: Mapping[str, Any],
    *,
    task: str,
    device_id: str,
    secret: DeviceSecret,
    now: dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """`body` as a device sends it as `task`: its fields, and the `auth` object."""
    plain = {k: v for k, v in body.items() if k != AUTH_KEY}
    ts, nonce = timestamp(now), nonce or new_nonce()
    mac = secret.mac(_device_content(plain, task=task, device_id=device_id, kid=secret.kid, ts=ts, nonce=nonce))
    auth = MessageAuth(v=AUTH_VERSION, device_id=device_id, kid=secret.kid, ts=ts, nonce=nonce, mac=mac)
    return {**plain, AUTH_KEY: auth.to_dict()}


def open_signed(message: Any) -> tuple[dict[str, Any], MessageAuth]:
    """The message's body and its `auth` object, read but not yet verified. AuthError("unsigned") when there is
    none; AuthError naming the field when it does not follow its schema."""
    if not isinstance(message, dict) or AUTH_KEY not in message:
        raise AuthError("unsigned")
    try:
        auth = MessageAuth.from_dict(message[AUTH_KEY], AUTH_KEY)
    except MessageError as exc:
        raise AuthError(f"malformed auth: {exc}") from None
    return {k: v for k, v in message.items() if k != AUTH_KEY}, auth


def mac_matches(body: Mapping[str, Any], auth: MessageAuth, *, task: str, secret: DeviceSecret) -> bool:
    """Whether `auth.mac` is the MAC `secret` makes of this body sent as `task` (constant-time comparison)."""
    expected = secret.mac(
        _device_content(body, task=task, device_id=auth.device_id, kid=auth.kid, ts=auth.ts, nonce=auth.nonce)
    )
    return hmac.compare_digest(expected, auth.mac)


def freshness_problem(sent_at: dt.datetime, *, now: dt.datetime, max_age_s: float, max_skew_s: float) -> str | None:
    """Why a message sent at `sent_at` is not to be accepted at `now`, or None: older than `max_age_s`, or
    further in the future than the clocks may disagree (`max_skew_s`)."""
    age = (now - sent_at).total_seconds()
    if age > max_age_s:
        return f"expired (sent {age:.0f} s ago > limit {max_age_s:.0f} s)"
    if -age > max_skew_s:
        return f"expired (clock skew: sent {-age:.0f} s in the future > limit {max_skew_s:.0f} s)"
    return None


# --- Server -> cobot ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandAuth(Message):
    """The `auth` object of a command the server sends to a cell's cobot: one MAC per device secret in force."""

    KIND: ClassVar[str] = "command authentication"

    v: Annotated[int, Integer(AUTH_VERSION, AUTH_VERSION)]
    ts: Annotated[str, Timestamp(as_text=True)]
    nonce: Annotated[str, NONCE]
    macs: Annotated[dict[str, str], MapOf(MAC, max_items=16, key_max_len=16)]

    @property
    def sent_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.ts)


def _command_content(body: Mapping[str, Any], *, task: str, kid: str, ts: str, nonce: str) -> bytes:
    return canonical_json(
        {"dir": SERVER_TO_EDGE, "v": AUTH_VERSION, "task": task, "kid": kid, "ts": ts, "nonce": nonce, "body": body}
    )


def sign_command(
    body: Mapping[str, Any],
    *,
    task: str,
    secrets_in_force: Iterable[DeviceSecret],
    now: dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """`body` as the server sends it as `task` to a cell's cobot, with a MAC for each secret in force."""
    plain = {k: v for k, v in body.items() if k != AUTH_KEY}
    ts, nonce = timestamp(now), nonce or new_nonce()
    macs = {s.kid: s.mac(_command_content(plain, task=task, kid=s.kid, ts=ts, nonce=nonce)) for s in secrets_in_force}
    return {**plain, AUTH_KEY: CommandAuth(v=AUTH_VERSION, ts=ts, nonce=nonce, macs=macs).to_dict()}


def verify_command(
    message: Any, *, task: str, secret: DeviceSecret, now: dt.datetime, max_age_s: float, max_skew_s: float
) -> tuple[dict[str, Any], CommandAuth]:
    """The command's body once its MAC under `secret` and its age are checked; AuthError saying why not."""
    if not isinstance(message, dict) or AUTH_KEY not in message:
        raise AuthError("unsigned command")
    try:
        auth = CommandAuth.from_dict(message[AUTH_KEY], AUTH_KEY)
    except MessageError as exc:
        raise AuthError(f"malformed auth: {exc}") from None
    body = {k: v for k, v in message.items() if k != AUTH_KEY}
    mac = auth.macs.get(secret.kid)
    if mac is None:
        raise AuthError(f"not signed for this device's secret (kid {secret.kid}; signed for {sorted(auth.macs)})")
    expected = secret.mac(_command_content(body, task=task, kid=secret.kid, ts=auth.ts, nonce=auth.nonce))
    if not hmac.compare_digest(expected, mac):
        raise AuthError("bad MAC")
    problem = freshness_problem(auth.sent_at, now=now, max_age_s=max_age_s, max_skew_s=max_skew_s)
    if problem:
        raise AuthError(problem)
    return body, auth
