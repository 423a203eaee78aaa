"""Access checks, one place per object type, used by views, the API and consumers alike."""
from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions

from traceability import roles


class ModelPermissionsWithView(DjangoModelPermissions):
    """Django model permissions, where reading also needs the model's view permission (auditors read, others
    only what their role shows)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def can_view_cell(user: Any, cell: Any = None) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(roles.VIEW_LIVE))


def can_trace(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(roles.VIEW_TRACE))


def can_contain(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(roles.CONTAIN_LOT))


def can_review(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(roles.REVIEW))
