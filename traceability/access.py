"""Access checks, one helper per object type, used by views, the API and consumers alike.

This is the selectors side of the app, next to `selectors.py`: each helper only reads who the user is and what
their role allows, and writes nothing. It stays its own module rather than part of `selectors.py` because
selectors return querysets of the domain while these answer yes/no about a user (and `ModelPermissionsWithView`
is the API's default permission class, named in settings), and because views, the API and consumers of several
apps already import it from here.

- a cell and its live stream: `can_view_cell`
- a part's or lot's genealogy (trace pages, trace API): `can_trace`
- a lot's containment and its release: `can_contain`
- an inspection's review (Debug Mode): `can_review`
"""

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


def can_view_drawings(user: Any) -> bool:
    """Part types and their drawings: every signed-in role reads them (operators see the tolerances they work to)."""
    return bool(user and user.is_authenticated and roles.role_of(user) is not None)


def can_edit_drawings(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("traceability.change_parttype"))
