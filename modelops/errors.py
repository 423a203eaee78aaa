"""The model registry's refusals (DomainError: the views map them to HTTP errors)."""

from __future__ import annotations

from traceability.errors import RefusedByRule


class ModelRefused(RefusedByRule):
    """A registry write the rules refuse (no candidate to promote, nothing to roll back to, a bad file)."""
