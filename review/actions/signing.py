"""Debug Mode's signatures: made through the product's one signing path (traceability.actions.esign: password or
PIN re-checked for every signature, an atomic lockout), bound to the review's content (hash version 2 also binds
the printed name, meaning and time; version 1 signatures still verify)."""

from __future__ import annotations

import logging
from typing import Any


from review.models import SIGNATURE_HASH_VERSION, Review, Signature
from traceability.actions import esign

log = logging.getLogger(__name__)


def authenticate_signer(user: Any, credential: str, *, subject: tuple[str, str], request: Any = None) -> str:
    """The one signing path (traceability.actions.esign), its refusals audited as Debug Mode's."""
    return esign.authenticate_signer(
        user, credential, subject=subject, request=request, action="review.signature_refused"
    )


content_hash = esign.content_hash


def signature_manifest(signature: Signature, *, review_sha256: str) -> dict[str, Any]:
    """What a version-2 signature binds: the review's content hash, and who signed it, under which printed name,
    with which meaning, when (the manifest every signature of the product binds: esign.signature_manifest)."""
    return esign.signature_manifest(
        content_sha256=review_sha256,
        signer_id=signature.signer_id,
        printed_name=signature.printed_name,
        meaning=signature.meaning,
        signed_at=signature.signed_at,
    )


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
        return signature.content_sha256 == content_hash(
            signature_manifest(signature, review_sha256=review.content_sha256)
        )
    return False
