"""Domain errors raised by actions; views and the API map them to HTTP responses in one place."""
from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    http_status = 400


class RefusedByRule(DomainError):
    """The action breaks a plant rule (packing a held part, re-opening a closed case, ...)."""

    code = "refused"
    http_status = 409


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
