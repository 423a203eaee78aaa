"""Domain errors raised by actions; views and the API map them to HTTP responses in one place
(`twinweb.errors.api_exception_handler`). The base class, `DomainError`, is twinweb's: every app's errors derive
from it, so the handler knows them without knowing the apps."""

from __future__ import annotations

from twinweb.errors import DomainError

__all__ = ["DomainError", "NotAllowed", "NotFound", "RefusedByRule"]


class RefusedByRule(DomainError):
    """The action breaks a plant rule (packing a held part, re-opening a closed case, ...)."""

    code = "refused"
    http_status = 409


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class NotAllowed(DomainError):
    """The person's role may not do this (or, for a countersignature, they are the wrong person)."""

    code = "forbidden"
    http_status = 403
