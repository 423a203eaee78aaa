"""Electronic signatures, in the spirit of 21 CFR Part 11 (§11.50, §11.70, §11.200): one path for every signature.

Every signature (Debug Mode's verdicts and countersignatures, a failure case's disposition and countersignature,
a containment's release) re-authenticates its signer here with a password or a signing PIN, carries its meaning,
and is bound to the sha256 of the record's content together with the signer, printed name, meaning and time.

The lockout counts atomically: each attempt reserves a slot in the signer's guard row with one conditional UPDATE
before the credential is checked, so a burst of parallel attempts gets no more guesses than the limit. A success
frees the slots; a refusal keeps its slot and is audited. The same password opens the login page, so a refused
signature also counts as a failed login (django-axes), and a login lockout locks signing too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from traceability import audit
from traceability.choices import RecordSignatureMeaning
from traceability.errors import DomainError, RefusedByRule
from traceability.models import RecordSignature, SigningGuard, SigningPin

PIN_PATTERN = re.compile(r"^\d{4,8}$")


class SignatureRefused(DomainError):
    """The signer could not be re-authenticated (or signing is locked): nothing was signed."""

    code = "signature_refused"
    http_status = 403


def printed_name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()


def content_hash(content: Any) -> str:
    return hashlib.sha256(audit.canonical_json(content).encode("utf-8")).hexdigest()


def signature_manifest(
    *, content_sha256: str, signer_id: int, printed_name: str, meaning: str, signed_at: dt.datetime
) -> dict[str, Any]:
    """What a signature binds: the record's content hash, and who signed it, under which printed name, with which
    meaning, when (21 CFR 11.50 and 11.70: the manifestation is linked to the record)."""
    return {
        "hash_version": 2,
        "review_content_sha256": content_sha256,
        "signer_id": signer_id,
        "printed_name": printed_name,
        "meaning": meaning,
        "signed_at": _utc(signed_at),
    }


# --- Re-authentication with an atomic lockout -------------------------------------------------------------


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.TWINWEB_SIGNATURE_LOCKOUT_S))


def _reserve_attempt(user: Any, now: dt.datetime) -> bool:
    """Take one of the signer's attempts in the current window, atomically; False when none is left."""
    limit = int(settings.TWINWEB_SIGNATURE_MAX_FAILURES)
    SigningGuard.objects.get_or_create(user=user)
    # A window that ended starts afresh (one statement: no burst can reset it twice).
    SigningGuard.objects.filter(user=user, window_started_at__lt=now - _window()).update(
        attempts=0, window_started_at=None
    )
    taken = SigningGuard.objects.filter(user=user, attempts__lt=limit).update(attempts=F("attempts") + 1)
    if taken:
        SigningGuard.objects.filter(user=user, window_started_at__isnull=True).update(window_started_at=now)
    return bool(taken)


def _release_attempt(user: Any) -> None:
    SigningGuard.objects.filter(user=user, attempts__gt=0).update(attempts=F("attempts") - 1)


def _credential_method(user: Any, credential: str) -> str | None:
    if user.check_password(credential):
        return "password"
    pin = SigningPin.objects.filter(user=user).first()
    if pin is not None and check_password(credential, pin.pin_hash):
        return "pin"
    return None


def authenticate_signer(
    user: Any, credential: str, *, subject: tuple[str, str], request: Any = None, action: str = "signature.refused"
) -> str:
    """Re-authenticate `user` with their password or signing PIN; returns which one. Refuses (and audits the
    refusal, and counts it as a failed login) when the credential is wrong or signing is locked."""
    if not credential:
        raise SignatureRefused(gettext("Enter your password or PIN to sign."))
    now = timezone.now()
    limit = int(settings.TWINWEB_SIGNATURE_MAX_FAILURES)
    # Autocommit: the reservation must be visible to every other attempt at once, not at the caller's commit.
    with transaction.atomic():
        reserved = _reserve_attempt(user, now)
    if not reserved:
        minutes = int(_window().total_seconds() // 60)
        raise SignatureRefused(
            ngettext(
                "Signing is locked for %(user)s after %(limit)s refused attempts; try again in %(minutes)s minute "
                "or ask a supervisor.",
                "Signing is locked for %(user)s after %(limit)s refused attempts; try again in %(minutes)s minutes "
                "or ask a supervisor.",
                minutes,
            )
            % {"user": user.get_username(), "limit": limit, "minutes": minutes}
        )
    method = _credential_method(user, credential)  # slow on purpose (password hashing): outside any lock
    if method is not None:
        with transaction.atomic():
            _release_attempt(user)
        return method
    attempts = SigningGuard.objects.get(user=user).attempts
    with transaction.atomic():
        audit.append(
            actor=user,
            action=action,
            subject=subject,
            after={"attempt": attempts, "limit": limit},
            reason="Password or PIN not accepted",
        )
    if request is not None:  # (django-axes counts per client address, so it needs the request)
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    raise SignatureRefused(gettext("Password or PIN not accepted: nothing was signed."))


@transaction.atomic
def set_signing_pin(user: Any, *, pin: str, current_password: str, actor: Any, request: Any = None) -> SigningPin:
    """Set or change the user's signing PIN: 4 to 8 digits, and only with the current password (a session alone,
    at an unlocked tablet, is not enough). A wrong password counts against the signing lockout."""
    if not PIN_PATTERN.match(pin or ""):
        raise RefusedByRule(gettext("A PIN is 4 to 8 digits."))
    if not current_password:
        raise SignatureRefused(gettext("Enter your current password to set a signing PIN."))
    authenticate_signer(
        user,
        current_password,
        subject=("auth.user", user.get_username()),
        request=request,
        action="signing_pin.refused",
    )
    if not user.check_password(current_password):  # a PIN may not vouch for a new PIN
        raise SignatureRefused(gettext("Your password, not your PIN, sets a new PIN."))
    row, _ = SigningPin.objects.update_or_create(
        user=user, defaults={"pin_hash": make_password(pin), "set_at": timezone.now()}
    )
    audit.append(
        actor=actor, action="signing_pin.set", subject=("auth.user", user.get_username()), after={"set_at": row.set_at}
    )
    return row


# --- Signing a record -------------------------------------------------------------------------------------


def sign_record(
    subject: tuple[str, str],
    *,
    content: dict[str, Any],
    meaning: RecordSignatureMeaning,
    signer: Any,
    method: str,
    at: dt.datetime,
) -> RecordSignature:
    """Store the signature of an authenticated signer on a record (inside the caller's transaction, beside the
    write it signs)."""
    content = json.loads(audit.canonical_json(content))  # as it will be read back: dates as text
    sha = content_hash(content)
    name = printed_name(signer)
    manifest = signature_manifest(
        content_sha256=sha, signer_id=signer.pk, printed_name=name, meaning=meaning, signed_at=at
    )
    signature = RecordSignature(
        subject_type=subject[0],
        subject_key=subject[1],
        meaning=meaning,
        signer=signer,
        printed_name=name,
        signed_at=at,
        method=method,
        signed_content=content,
        content_sha256=sha,
        manifest_sha256=content_hash(manifest),
    )
    signature.full_clean()
    signature.save()
    return signature


def record_signature_is_intact(signature: RecordSignature) -> bool:
    """The signature still matches its content and its own printed name, meaning and time."""
    if content_hash(signature.signed_content) != signature.content_sha256:
        return False
    manifest = signature_manifest(
        content_sha256=signature.content_sha256,
        signer_id=signature.signer_id,
        printed_name=signature.printed_name,
        meaning=signature.meaning,
        signed_at=signature.signed_at,
    )
    return content_hash(manifest) == signature.manifest_sha256


def signatures_of(subject: tuple[str, str]) -> list[RecordSignature]:
    return list(
        RecordSignature.objects.filter(subject_type=subject[0], subject_key=subject[1]).select_related("signer")
    )
