"""The five roles (Django groups) and what each may do. README.md shows this matrix as a table.

Model permissions are Django's own (view/add/change/delete); the capabilities below are custom permissions
declared on the models they guard. `sync_roles` is idempotent and runs after every migrate.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

OPERATOR = "operator"
SUPERVISOR = "supervisor"
AUDITOR = "auditor"
QUALITY_ENGINEER = "quality engineer"
ADMIN = "admin"
ROLES = (OPERATOR, SUPERVISOR, AUDITOR, QUALITY_ENGINEER, ADMIN)

# Capabilities: "app_label.codename" of custom permissions.
VIEW_LIVE = "traceability.view_live_cell"
ACK_ALARM = "traceability.acknowledge_alarm"
VIEW_TRACE = "traceability.view_trace"
CONTAIN_LOT = "traceability.contain_lot"
PACK_PARTS = "traceability.pack_parts"
REVIEW = "inspection.review_inspection"
COUNTERSIGN = "inspection.countersign_review"
PROFILE_EDGE = "inspection.run_profiling"
FREEZE_LIMITS = "spc.freeze_limits"
ACK_SPC = "spc.acknowledge_violation"

READ_ALL = "view:*"  # every view_<model> permission of the project's apps
WRITE_ALL = "*"  # every permission

DOMAIN_APPS = ("traceability", "inspection", "live", "review", "profiling", "spc", "modelops")

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    OPERATOR: (
        VIEW_LIVE,
        ACK_ALARM,
        REVIEW,
        ACK_SPC,
        "spc.view_characteristic",
        "traceability.view_part",
        "traceability.view_station",
        "traceability.view_cell",
        "traceability.view_failurecase",
        "traceability.view_defectcode",
        "traceability.view_parttype",
        "inspection.view_inspection",
        "inspection.view_edgedevice",
    ),
    SUPERVISOR: (READ_ALL, VIEW_LIVE, ACK_ALARM, ACK_SPC, VIEW_TRACE, COUNTERSIGN, PACK_PARTS),
    AUDITOR: (READ_ALL, VIEW_LIVE, VIEW_TRACE),
    QUALITY_ENGINEER: (
        READ_ALL,
        VIEW_LIVE,
        ACK_ALARM,
        VIEW_TRACE,
        CONTAIN_LOT,
        PACK_PARTS,
        REVIEW,
        COUNTERSIGN,
        PROFILE_EDGE,
        FREEZE_LIMITS,
        ACK_SPC,
        "spc.change_characteristic",
        "spc.add_gaugestudy",
        "spc.add_assignablecause",
        "spc.change_assignablecause",
        "spc.add_correctiveaction",
        "spc.change_correctiveaction",
        "traceability.add_failurecase",
        "traceability.change_failurecase",
        "traceability.add_defectcode",
        "traceability.change_defectcode",
        "traceability.add_parttype",
        "traceability.change_parttype",
        "traceability.add_dimensionalfeature",
        "traceability.change_dimensionalfeature",
        "traceability.change_materiallot",
        "inspection.add_stationcalibration",
        "modelops.manage_models",
    ),
    ADMIN: (WRITE_ALL,),
}

# Who may use the Django admin (read-only where the role has only view permissions).
STAFF_ROLES = {SUPERVISOR, AUDITOR, QUALITY_ENGINEER, ADMIN}


def _resolve(entries: tuple[str, ...]) -> list[Permission]:
    domain = Permission.objects.filter(content_type__app_label__in=DOMAIN_APPS)
    found: dict[int, Permission] = {}
    for entry in entries:
        if entry == WRITE_ALL:
            perms = Permission.objects.filter(content_type__app_label__in=(*DOMAIN_APPS, "auth", "authtoken"))
        elif entry == READ_ALL:
            perms = domain.filter(codename__startswith="view_")
        else:
            app_label, codename = entry.split(".", 1)
            perms = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            if not perms:
                raise LookupError(f"role permission {entry} does not exist")
        found.update({perm.pk: perm for perm in perms})
    return list(found.values())


def sync_roles() -> dict[str, Group]:
    groups = {}
    for role, entries in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_resolve(entries))
        groups[role] = group
    return groups


def sync_roles_after_migrate(**kwargs: Any) -> None:
    # post_migrate fires per app; act once the permissions of both domain apps exist.
    if (
        Permission.objects.filter(
            codename__in=["review_inspection", "view_trace", "freeze_limits", "manage_models"]
        ).count()
        == 4
    ):
        sync_roles()


def role_of(user: Any) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (ADMIN, QUALITY_ENGINEER, SUPERVISOR, AUDITOR, OPERATOR):
        if role in names:
            return role
    return None
