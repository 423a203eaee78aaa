"""Electronic signatures: who may sign (password or PIN, re-checked for every signature, with a lockout), the
PIN itself, and the hash that binds a signature to the review's content (hash version 2 also binds the printed
name, meaning and time; version 1 signatures still verify)."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from review.actions.common import SignatureRefused
from review.models import SIGNATURE_HASH_VERSION, Review, ReviewPin, Signature
from traceability import audit
from traceability.errors import RefusedByRule
from traceability.models import AuditRecord

log = logging.getLogger(__name__)
PIN_PATTERN = re.compile(r"^\d{4,8}$")


def verify_signer(user: Any, credential: str) -> str:
    """Re-authenticate the signer with their password or their PIN; returns which one, or refuses."""
    if not credential:
        raise SignatureRefused("Enter your password or PIN to sign.")
    if user.check_password(credential):
        return "password"
    pin = ReviewPin.objects.filter(user=user).first()
    if pin is not None and check_password(credential, pin.pin_hash):
        return "pin"
    raise SignatureRefused("Password or PIN not accepted: the verdict was not signed.")


def authenticate_signer(user: Any, credential: str, *, subject: tuple[str, str]) -> str:
    """verify_signer, with every refusal audited, and signing locked for a while after repeated refusals."""
    window = dt.timedelta(seconds=float(settings.TWINWEB_SIGNATURE_LOCKOUT_S))
    limit = int(settings.TWINWEB_SIGNATURE_MAX_FAILURES)
    recent = AuditRecord.objects.filter(
        action="review.signature_refused", actor_id=user.pk, created_at__gte=timezone.now() - window
    ).count()
    if recent >= limit:
        raise SignatureRefused(
            f"Signing is locked for {user.get_username()} after {recent} refused attempts; try again in "
            f"{int(window.total_seconds() // 60)} minutes or ask a supervisor."
        )
    try:
        return verify_signer(user, credential)
    except SignatureRefused as exc:
        with transaction.atomic():
            audit.append(actor=user, action="review.signature_refused", subject=subject,
                         after={"attempt": recent + 1, "limit": limit}, reason=str(exc))
        raise


@transaction.atomic
def set_review_pin(user: AbstractBaseUser, *, pin: str, actor: Any) -> ReviewPin:
    if not PIN_PATTERN.match(pin or ""):
        raise RefusedByRule("A PIN is 4 to 8 digits.")
    row, _ = ReviewPin.objects.update_or_create(user=user, defaults={"pin_hash": make_password(pin), "set_at": timezone.now()})
    audit.append(actor=actor, action="review.pin_set", subject=("auth.user", user.get_username()), after={"set_at": row.set_at})
    return row


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(audit.canonical_json(content).encode("utf-8")).hexdigest()


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()


def signature_manifest(signature: Signature, *, review_sha256: str) -> dict[str, Any]:
    """What a version-2 signature binds: the review's content hash, and who signed it, under which printed name,
    with which meaning, when (21 CFR 11.50 and 11.70: the manifestation is linked to the record)."""
    return {
        "hash_version": 2, "review_content_sha256": review_sha256, "signer_id": signature.signer_id,
        "printed_name": signature.printed_name, "meaning": signature.meaning, "signed_at": _utc(signature.signed_at),
    }


def bind_signature(signature: Signature, review: Review) -> Signature:
    signature.hash_version = SIGNATURE_HASH_VERSION
    signature.content_sha256 = content_hash(signature_manifest(signature, review_sha256=review.content_sha256))
    return signature


def signature_is_intact(signature: Signature) -> bool:
    """The signature still matches what the review records as signed and, from version 2 on, its own printed
    name, meaning and time. Version 1 signatures (made before) bound the review's content hash alone."""
    review = signature.review
    if content_hash(review.signed_content) != review.content_sha256:
        return False
    if signature.hash_version == 1:
        return signature.content_sha256 == review.content_sha256
    if signature.hash_version == 2:
        return signature.content_sha256 == content_hash(signature_manifest(signature, review_sha256=review.content_sha256))
    return False
