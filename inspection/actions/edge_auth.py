"""Authenticated edge messages, the server's side (the wire format is edge_worker/contracts/signing.py).

    issue_edge_secret   a new secret for a device, returned once; the one it replaces stays valid for the grace
                        period (TWINWEB_EDGE_SECRET_GRACE_S), or not at all when it is revoked
    authenticate        what every ingest action does first with a device's message: who signed it (a registered
                        device, with a secret in force), the MAC, the age, the nonce. Anything else is kept as an
                        `unauthenticated` dead letter with the reason, and nothing of the message is read further
    sign_for_cell       a cobot command, signed with the secrets in force of the cell's devices
    ensure_edge_secret  a device's current secret, issued if it has none (the demo's embedded default)
    sign_as_device      a device's message signed by the server itself: the demo's history goes through the real
                        ingest path this way (as do the tests and benchmarks)

Replay protection. Each accepted nonce is remembered in Redis, `SET <prefix>:edge-nonce:<device>:<nonce> <mac> NX
EX <max age + clock skew>`. Redis is already on every ingest path (the broker, the live sequence counter); SET NX
is atomic across any number of ingest workers; the entries expire by themselves (no purge job, and no extra row
in the database's hottest transaction); they persist with the broker's append-only file. A message older than the
maximum age is refused before its nonce is looked at, so a nonce never needs to be remembered longer.

The same nonce again with the same MAC is the same signed message delivered again: Celery's late acknowledgement
redelivers it after a worker died, a retry re-runs it, and a copy replayed from the network is no different. It is
passed on (`Authenticated.repeat`) to the action, which is idempotent on the message's own id (result, refusal,
command, run; telemetry by device and time), so it changes nothing the first delivery did not. The same nonce with
another MAC is content the device never signed under that nonce: refused as replayed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from edge_worker.contracts.queues import INGEST_TELEMETRY_TASK
from edge_worker.contracts.signing import (
    AuthError,
    DeviceSecret,
    MessageAuth,
    freshness_problem,
    mac_matches,
    open_signed,
    sign,
    sign_command,
)
from inspection.actions.dead_letters import PayloadRefused, dead_letter
from inspection.choices import DeadLetterReason
from inspection.models import EdgeDevice, EdgeDeviceSecret, SecretUnavailable, derive_device_secret
from traceability import audit
from traceability.models import Cell
from twinweb import embedded_redis

log = logging.getLogger(__name__)

# Telemetry is worth nothing after a few minutes (Celery drops it after 30-60 s anyway): its nonces are kept that long.
TELEMETRY_MAX_AGE_S = 300.0

_redis_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _redis_client
    embedded_redis.needed()
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    return _redis_client


def nonce_key(device_id: str, nonce: str) -> str:
    """Under the channel layer's prefix (the server's Redis namespace; test runs each have their own)."""
    prefix = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("prefix", "twinweb")
    return f"{prefix}:edge-nonce:{device_id}:{nonce}"


# --- Secrets -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedSecret:
    """A secret just issued. `secret` is shown once to whoever issued it, and stored nowhere."""

    record: EdgeDeviceSecret
    secret: DeviceSecret
    replaced: list[EdgeDeviceSecret]


@transaction.atomic(durable=True)
def issue_edge_secret(
    device: EdgeDevice, *, actor: Any, revoke_previous: bool = False, grace_s: float | None = None
) -> IssuedSecret:
    """A new secret for `device`. The secret it replaces stays valid for `grace_s` (TWINWEB_EDGE_SECRET_GRACE_S),
    long enough to put the new one on the device; `revoke_previous` (a secret that leaked) ends it now."""
    device = EdgeDevice.objects.select_for_update().get(pk=device.pk)
    now = timezone.now()
    grace = 0.0 if revoke_previous else float(settings.TWINWEB_EDGE_SECRET_GRACE_S if grace_s is None else grace_s)
    until = now + dt.timedelta(seconds=grace)
    replaced = [s for s in EdgeDeviceSecret.objects.filter(device=device) if s.in_force(now)]
    for old in replaced:
        old.expires_at = min(old.expires_at, until) if old.expires_at else until
        old.save(update_fields=["expires_at"])
    salt = secrets.token_bytes(32)
    secret = derive_device_secret(salt, settings.SECRET_KEY)
    record = EdgeDeviceSecret(
        device=device,
        kid=secret.kid,
        salt=salt.hex(),
        issued_at=now,
        issued_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record.full_clean()
    record.save()
    audit.append(
        actor=actor,
        action="edge_device.secret_issued",
        subject=device,
        before={"secrets_in_force": [s.kid for s in replaced]} if replaced else None,
        after={
            "kid": secret.kid,
            "replaced": {s.kid: s.expires_at.isoformat() for s in replaced if s.expires_at},
            "revoked_now": revoke_previous,
        },
        reason="previous secret revoked at once" if revoke_previous and replaced else "",
    )
    log.info("issued secret %s for edge device %s (%d replaced)", secret.kid, device.device_id, len(replaced))
    return IssuedSecret(record, secret, replaced)


def ensure_edge_secret(device: EdgeDevice, *, actor: Any) -> DeviceSecret:
    """The device's current secret, a first one issued if it has none: what the demo (and the test harnesses)
    hand the edge worker they start, so the embedded default signs and verifies with no configuration. A secret
    issued under another SECRET_KEY can no longer be used by anyone: it is replaced at once."""
    try:
        secret = current_secret(device)
    except SecretUnavailable:
        return issue_edge_secret(device, actor=actor, revoke_previous=True).secret
    if secret is None:
        secret = issue_edge_secret(device, actor=actor).secret
    return secret


def secrets_in_force(device: EdgeDevice, now: dt.datetime | None = None) -> list[EdgeDeviceSecret]:
    now = now or timezone.now()
    return [s for s in EdgeDeviceSecret.objects.filter(device=device) if s.in_force(now)]


def current_secret(device: EdgeDevice) -> DeviceSecret | None:
    """The device's current secret (what its worker must be given), or None before one is issued."""
    record = EdgeDeviceSecret.objects.filter(device=device, expires_at__isnull=True).first()
    return record.secret() if record is not None else None


# --- Incoming: device -> server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authenticated:
    """A device's message shown to be authentic: its fields (without `auth`), the device that signed it, and
    whether this very signed message was seen before (a redelivery: the action must change nothing twice)."""

    body: dict[str, Any]
    device: EdgeDevice
    auth: MessageAuth
    repeat: bool


def max_age_for(task: str) -> float:
    limit = float(settings.TWINWEB_EDGE_MESSAGE_MAX_AGE_S)
    return min(limit, TELEMETRY_MAX_AGE_S) if task == INGEST_TELEMETRY_TASK else limit


def _signer(
    auth: MessageAuth,
    now: dt.datetime,
    known: dict[tuple[str, str], tuple[EdgeDevice, DeviceSecret] | AuthError] | None = None,
) -> tuple[EdgeDevice, DeviceSecret]:
    """The device and secret a message says signed it. `known` memoises the answer (or the refusal) by device and
    key id within one batch of messages: a batch from one device looks its secret up once."""
    if known is None:
        return _lookup_signer(auth, now)
    key = (auth.device_id, auth.kid)
    if key not in known:
        try:
            known[key] = _lookup_signer(auth, now)
        except AuthError as exc:
            known[key] = exc
    answer = known[key]
    if isinstance(answer, AuthError):
        raise AuthError(answer.problem)
    return answer


def _lookup_signer(auth: MessageAuth, now: dt.datetime) -> tuple[EdgeDevice, DeviceSecret]:
    device = EdgeDevice.objects.filter(device_id=auth.device_id).select_related("cell").first()
    if device is None:
        raise AuthError(f"unknown device: no edge device {auth.device_id!r} is registered")
    record = EdgeDeviceSecret.objects.filter(device=device, kid=auth.kid).first()
    if record is None:
        issued = EdgeDeviceSecret.objects.filter(device=device).exists()
        raise AuthError(
            f"unknown secret: device {auth.device_id!r} has no secret {auth.kid}"
            + ("" if issued else " (none was ever issued: issue one in the admin)")
        )
    if not record.in_force(now):
        assert record.expires_at is not None
        raise AuthError(
            f"retired secret: {auth.kid} of device {auth.device_id!r} expired at "
            f"{record.expires_at.isoformat()} (the device needs its current secret)"
        )
    try:
        return device, record.secret()
    except SecretUnavailable as exc:
        raise AuthError(f"unverifiable secret: {exc}") from None


def _remember_nonce(auth: MessageAuth, ttl_s: float) -> bool:
    """True the first time this nonce of this device is seen; False when it was seen with this very MAC (the same
    message again). AuthError when it was seen with another MAC."""
    key, ttl = nonce_key(auth.device_id, auth.nonce), max(1, math.ceil(ttl_s))
    client = _redis()
    for _ in range(3):  # the key may expire between SET NX and GET: then it is a first sight after all
        if client.set(key, auth.mac, nx=True, ex=ttl):
            return True
        seen = client.get(key)
        if seen is not None:
            if hmac.compare_digest(seen if isinstance(seen, bytes) else seen.encode(), auth.mac.encode()):
                return False
            raise AuthError(f"replayed nonce {auth.nonce}: already used by device {auth.device_id!r} for other content")
    raise AuthError(f"nonce {auth.nonce} could not be recorded")  # pragma: no cover - three expiries in a row


def verify(
    message: Any, *, task: str, device_field: str | None = "device_id", now: dt.datetime | None = None
) -> Authenticated:
    """The message once shown to be authentic, or AuthError saying why not. Checked in this order: signed at all,
    by a registered device, with a secret of it in force, the MAC (over every field and the task it is sent as),
    the device it claims in `device_field`, its age, its nonce."""
    now = now or timezone.now()
    body, auth, device = _verify_content(message, task=task, device_field=device_field, now=now)
    first = _remember_nonce(auth, max_age_for(task) + float(settings.TWINWEB_EDGE_CLOCK_SKEW_S))
    return Authenticated(body=body, device=device, auth=auth, repeat=not first)


def _verify_content(
    message: Any,
    *,
    task: str,
    device_field: str | None,
    now: dt.datetime,
    known: dict[tuple[str, str], Any] | None = None,
) -> tuple[dict[str, Any], MessageAuth, EdgeDevice]:
    """Everything `verify` checks but the nonce."""
    body, auth = open_signed(message)
    device, secret = _signer(auth, now, known)
    if not mac_matches(body, auth, task=task, secret=secret):
        raise AuthError(f"bad MAC: the message is not what device {auth.device_id!r} signed as {task}")
    claimed = body.get(device_field) if device_field else None
    if claimed is not None and claimed != auth.device_id:
        raise AuthError(f"device mismatch: signed by {auth.device_id!r} but sent as {str(claimed)[:60]!r}")
    max_age, skew = max_age_for(task), float(settings.TWINWEB_EDGE_CLOCK_SKEW_S)
    problem = freshness_problem(auth.sent_at, now=now, max_age_s=max_age, max_skew_s=skew)
    if problem:
        raise AuthError(problem)
    return body, auth, device


def _remember_nonces(auths: list[MessageAuth], ttl_s: float) -> list[bool | AuthError]:
    """`_remember_nonce` for a batch in two Redis round trips (SET NX for all; GET for those already set), in order:
    the same message twice in one batch is a first sight, then a repeat."""
    if not auths:
        return []
    ttl = max(1, math.ceil(ttl_s))
    client = _redis()
    setting = client.pipeline(transaction=False)
    for auth in auths:
        setting.set(nonce_key(auth.device_id, auth.nonce), auth.mac, nx=True, ex=ttl)
    first = setting.execute()
    seen_again = [i for i, stored in enumerate(first) if not stored]
    getting = client.pipeline(transaction=False)
    for i in seen_again:
        getting.get(nonce_key(auths[i].device_id, auths[i].nonce))
    out: list[bool | AuthError] = [True if stored else False for stored in first]
    for i, seen in zip(seen_again, getting.execute() if seen_again else []):
        auth = auths[i]
        if seen is None:  # expired between the two round trips: ask again, alone
            try:
                out[i] = _remember_nonce(auth, ttl_s)
            except AuthError as exc:
                out[i] = exc
        elif hmac.compare_digest(seen if isinstance(seen, bytes) else seen.encode(), auth.mac.encode()):
            out[i] = False
        else:
            out[i] = AuthError(
                f"replayed nonce {auth.nonce}: already used by device {auth.device_id!r} for other content"
            )
    return out


def authenticate_many(
    messages: list[Any], *, task: str, source: str, device_field: str | None = "device_id"
) -> list[Authenticated | PayloadRefused]:
    """`authenticate` for a batch, in order, with the same checks and dead letters: each signer is looked up once
    per batch and the nonces are remembered in two round trips, not two per message."""
    now = timezone.now()
    known: dict[tuple[str, str], Any] = {}
    checked: list[tuple[dict[str, Any], MessageAuth, EdgeDevice] | AuthError] = []
    for message in messages:
        try:
            checked.append(_verify_content(message, task=task, device_field=device_field, now=now, known=known))
        except AuthError as exc:
            checked.append(exc)
    fresh = [c for c in checked if not isinstance(c, AuthError)]
    firsts = iter(
        _remember_nonces(
            [auth for _body, auth, _device in fresh], max_age_for(task) + float(settings.TWINWEB_EDGE_CLOCK_SKEW_S)
        )
    )
    out: list[Authenticated | PayloadRefused] = []
    for message, outcome in zip(messages, checked):
        if not isinstance(outcome, AuthError):
            body, auth, device = outcome
            first = next(firsts)
            if not isinstance(first, AuthError):
                out.append(Authenticated(body=body, device=device, auth=auth, repeat=not first))
                continue
            outcome = first
        out.append(
            PayloadRefused(
                dead_letter(message, reason=DeadLetterReason.UNAUTHENTICATED, detail=outcome.problem, source=source)
            )
        )
    return out


def authenticate(message: Any, *, task: str, source: str, device_field: str | None = "device_id") -> Authenticated:
    """`verify`, keeping a message that fails it as an `unauthenticated` dead letter (raises PayloadRefused)."""
    try:
        return verify(message, task=task, device_field=device_field)
    except AuthError as exc:
        raise PayloadRefused(
            dead_letter(message, reason=DeadLetterReason.UNAUTHENTICATED, detail=exc.problem, source=source)
        ) from None


def refuse_unauthenticated(message: Any, *, problem: str, source: str) -> PayloadRefused:
    """A message whose authenticity the caller disproved after `authenticate` (e.g. a cobot acknowledgement
    signed by a device of another cell), kept as an `unauthenticated` dead letter."""
    return PayloadRefused(dead_letter(message, reason=DeadLetterReason.UNAUTHENTICATED, detail=problem, source=source))


# --- Outgoing: server -> device ----------------------------------------------------------------------------------


def sign_for_cell(body: Mapping[str, Any], *, task: str, cell: Cell) -> dict[str, Any]:
    """A cobot command for `cell`, signed with every secret in force of the cell's devices (the cobot checks the
    one of its own device; during a rotation both of a device's secrets sign). Unsigned when the cell has none:
    the cobot then refuses it, and says so in its acknowledgement."""
    now = timezone.now()
    in_force = []
    for record in EdgeDeviceSecret.objects.filter(device__cell=cell).select_related("device"):
        if record.in_force(now):
            try:
                in_force.append(record.secret())
            except SecretUnavailable as exc:
                log.error("cobot command not signed with %s: %s", record.kid, exc)
    if not in_force:
        log.error("cell %s has no edge device with a secret: its cobot will refuse this %s command", cell.code, task)
        return dict(body)
    return sign_command(body, task=task, secrets_in_force=in_force)


def sign_as_device(body: Mapping[str, Any], *, task: str, device: EdgeDevice) -> dict[str, Any]:
    """`body` signed with `device`'s current secret, as the device itself would send it as `task`."""
    secret = current_secret(device)
    if secret is None:
        raise SecretUnavailable(f"edge device {device.device_id} has no secret: issue one first")
    return sign(body, task=task, device_id=device.device_id, secret=secret)
