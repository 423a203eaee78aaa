"""Navigation by role: each page's menu shows only what the signed-in user may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from traceability import roles

# (label, url name, permission needed or None for any signed-in user)
NAVIGATION: tuple[tuple[str | Promise, str, str | None], ...] = (
    (_("Live view"), "home", roles.VIEW_LIVE),
    (_("Trace"), "trace-search", roles.VIEW_TRACE),
    (_("Debug Mode"), "review-queue", roles.REVIEW),
    # Quality records the roles that read everything keep in view (operators reach them from links, and keep a
    # header that fits a portrait tablet).
    (_("Drawings"), "drawings", "traceability.view_drawingrevision"),
    (_("Calibration"), "calibration", "inspection.view_stationcalibration"),
    (_("Edge"), "profiling-runs", None),
    (_("SPC"), "spc-index", "spc.view_controllimits"),
    (_("Models"), "modelops-registry", "modelops.manage_models"),
)


# The role as the header shows it (the group names stay English: they are data other code looks up).
ROLE_LABELS = {
    roles.OPERATOR: _("operator"),
    roles.SUPERVISOR: _("supervisor"),
    roles.AUDITOR: _("auditor"),
    roles.QUALITY_ENGINEER: _("quality engineer"),
    roles.ADMIN: _("admin"),
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": None}
    items = []
    for label, url_name, permission in NAVIGATION:
        if permission and not user.has_perm(permission):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue  # the page is not installed
        items.append({"label": label, "url": url, "active": request.path.startswith(url) and url != "/"})
    if user.is_staff:
        items.append({"label": _("Admin"), "url": reverse("admin:index"), "active": request.path.startswith("/admin/")})
    role = roles.role_of(user)
    return {"nav_items": items, "user_role": ROLE_LABELS.get(role, role) if role else None}
