"""Which way the arrows run (STYLE.md): each server app is used by the others only through its public surface,
`traceability` knows no other app, `edge_worker` knows neither the server nor Django, and `twinweb` holds
wiring only.

The imports are read with `ast` from the source files (every `import`, at module level or inside a function),
so the check is fast and needs nothing installed. A violation is reported as file:line with the rule it breaks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER_APPS = (
    "traceability",
    "inspection",
    "live",
    "review",
    "profiling",
    "spc",
    "demo",
    "monitoring",
    "gateway",
    "modelops",
)
WIRING = "twinweb"
EDGE = "edge_worker"

# What every server app offers the others: its data, its enums, its writes, its reads and its errors.
PUBLIC_MODULES = ("models", "choices", "actions", "selectors", "errors")
# What traceability offers besides: the audit trail, roles and access checks every app uses, genealogy's
# registration hook (inspection contributes its steps to the trace), and the GS1 identifier codec (pure
# functions of the standard, like choices; the demo makes SSCCs and GTINs with it).
TRACEABILITY_EXTRAS = ("audit", "roles", "access", "genealogy", "gs1")
# What the gateway offers besides: the PLC's address space (the contract between the gateway and any PLC that
# serves it, the demo's simulated PLC included) and the code that builds it on an OPC UA server.
GATEWAY_EXTRAS = ("address_space", "opcua_nodes")
# The admin base classes that write through the audit trail: shared by every app's admin.py, and only there.
ADMIN_BASES = "traceability.admin"
# twinweb's wiring that apps may use: the publish helper and event schemas, the base error, settings readers,
# the Celery app, and the embedded Redis the demo starts for a one-command run.
TWINWEB_PUBLIC = ("live", "events", "errors", "env", "celery", "embedded_redis", "metrics", "exports")
# twinweb's modules that wire the apps together and so may import them.
TWINWEB_WIRING_MODULES = ("urls", "routing", "asgi", "celery", "context_processors", "views")
DJANGO_SIDE = ("django", "rest_framework", "channels", "channels_redis", "daphne")

# Known violations owned by someone else's change in flight; each entry must still occur (the list only shrinks).
# Imports that break a rule but are tolerated for now, each with the reason (none at present).
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository root
    line: int
    module: str  # the imported module, resolved (`from a import b` names module a.b when b is a module)

    @property
    def owner(self) -> str:
        return self.path.split("/")[0]

    @property
    def target(self) -> str:
        return self.module.split(".")[0]


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _package_of(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1] if parts[-1] != "__init__" else parts[:-1]


def imports_in(path: Path) -> Iterator[Import]:
    relative = path.relative_to(ROOT).as_posix()
    for node in ast.walk(ast.parse(path.read_text(), relative)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(relative, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(path)
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield Import(relative, node.lineno, candidate if _is_module(candidate) else base)


def source_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _within(module: str, prefixes: list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def public_surface(app: str) -> list[str]:
    surface = [app] + [f"{app}.{name}" for name in PUBLIC_MODULES]
    if app == "traceability":
        surface += [f"{app}.{name}" for name in TRACEABILITY_EXTRAS]
    if app == "gateway":
        surface += [f"{app}.{name}" for name in GATEWAY_EXTRAS]
    return surface


def _is_surface(module: str, app: str) -> bool:
    """`app` itself (`from app import actions` resolves to app.actions when actions is a module) or one of its
    public modules or their sub-modules (actions.*, models.* once they are packages)."""
    if module == app:
        return True
    return _within(module, public_surface(app)[1:])


def violations(files: Iterator[Path]) -> list[tuple[Import, str]]:
    found = []
    for path in files:
        for imp in imports_in(path):
            why = rule_broken(imp)
            if why:
                found.append((imp, why))
    return found


def rule_broken(imp: Import) -> str | None:
    owner, target, module = imp.owner, imp.target, imp.module
    if owner == target:
        return None
    if owner == EDGE:
        if target in SERVER_APPS or target == WIRING:
            return "edge_worker imports no server code (it runs on the Jetson, without the database)"
        if target in DJANGO_SIDE:
            return "edge_worker imports no Django (it runs on the Jetson, without the database)"
        return None
    if owner == WIRING:
        wiring_module = imp.path.split("/")[1].removesuffix(".py")
        if target in SERVER_APPS and wiring_module not in TWINWEB_WIRING_MODULES:
            return f"twinweb holds wiring only: only {', '.join(TWINWEB_WIRING_MODULES)} import apps"
        return None
    if owner not in SERVER_APPS:
        return None
    if owner == "traceability" and (target in SERVER_APPS or target == EDGE):
        return "traceability knows nothing of the other apps"
    if target == WIRING:
        if module == WIRING or _within(module, [f"{WIRING}.{name}" for name in TWINWEB_PUBLIC]):
            return None
        return f"apps use twinweb's {', '.join(TWINWEB_PUBLIC)} only"
    if target in SERVER_APPS:
        if _is_surface(module, target):
            return None
        if module == ADMIN_BASES and imp.path.endswith("/admin.py"):
            return None
        return f"{module} is internal to {target}: use its {', '.join(public_surface(target)[1:])}"
    return None


def _report(found: list[tuple[Import, str]]) -> str:
    return "\n".join(f"{imp.path}:{imp.line} imports {imp.module}: {why}" for imp, why in found)


ALL_CODE = (*SERVER_APPS, WIRING, EDGE)


def test_it_finds_no_import_across_the_lines_the_architecture_draws() -> None:
    found = [
        (imp, why) for imp, why in violations(source_files(*ALL_CODE)) if (imp.path, imp.module) not in KNOWN_VIOLATIONS
    ]
    assert not found, "\n" + _report(found)


def test_it_still_has_each_known_violation_it_tolerates() -> None:
    """A fixed violation leaves the list, so it cannot come back unnoticed."""
    present = {(imp.path, imp.module) for imp, _ in violations(source_files(*ALL_CODE))}
    assert KNOWN_VIOLATIONS <= present, f"fixed, remove from KNOWN_VIOLATIONS: {KNOWN_VIOLATIONS - present}"


def test_it_keeps_traceability_free_of_every_other_app() -> None:
    others = (*SERVER_APPS[1:], EDGE)
    found = [imp for path in source_files("traceability") for imp in imports_in(path) if imp.target in others]
    assert not found, "\n" + "\n".join(f"{imp.path}:{imp.line} imports {imp.module}" for imp in found)


def test_it_keeps_the_edge_worker_free_of_the_server_and_django() -> None:
    forbidden = (*SERVER_APPS, WIRING, *DJANGO_SIDE)
    found = [
        imp
        for path in source_files(EDGE)
        for imp in imports_in(path)
        if imp.target in forbidden and (imp.path, imp.module) not in KNOWN_VIOLATIONS
    ]
    assert not found, "\n" + "\n".join(f"{imp.path}:{imp.line} imports {imp.module}" for imp in found)


# --- The checker itself catches what it should ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "source", "rule"),
    [
        ("live/views.py", "from review.views import queue", "internal to review"),
        ("review/actions/claims.py", "from inspection import trace", "internal to inspection"),
        ("demo/x.py", "import profiling.tasks", "internal to profiling"),
        ("live/x.py", "from traceability.admin import ReadOnlyAdmin", "internal to traceability"),
        ("traceability/actions/parts.py", "from inspection.models import Inspection", "traceability knows nothing"),
        ("traceability/views.py", "from live import selectors", "traceability knows nothing"),
        ("edge_worker/runtime.py", "from django.conf import settings", "imports no Django"),
        ("edge_worker/tasks.py", "from traceability.models import Part", "imports no server code"),
        ("twinweb/live.py", "from live.models import Alarm", "wiring only"),
        ("review/views.py", "from twinweb.middleware import x", "twinweb's"),
    ],
)
def test_it_reports_an_import_that_breaks_a_rule(path: str, source: str, rule: str) -> None:
    [imp] = _imports_of(source, path)
    why = rule_broken(imp)
    assert why is not None and rule in why, why


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("review/actions/claims.py", "from traceability import actions as trace_actions"),
        ("review/actions/claims.py", "from traceability.actions import FINAL_PART_STATES"),
        ("live/consumers.py", "from traceability.access import can_view_cell"),
        ("demo/simulator.py", "from inspection.actions.edge import register"),
        ("inspection/trace.py", "from traceability.genealogy import register_inspection_source"),
        ("review/admin.py", "from traceability.admin import ReadOnlyAdmin"),
        ("profiling/actions.py", "from twinweb.live import publish_on_commit"),
        ("twinweb/urls.py", "from live import views"),
        ("inspection/actions/ingest.py", "from edge_worker.messages import InspectionResult"),
    ],
)
def test_it_allows_the_public_surface(path: str, source: str) -> None:
    for imp in _imports_of(source, path):
        assert rule_broken(imp) is None, imp


def _imports_of(source: str, path: str) -> list[Import]:
    node = ast.parse(source).body[0]
    assert isinstance(node, (ast.Import, ast.ImportFrom))
    if isinstance(node, ast.Import):
        return [Import(path, 1, alias.name) for alias in node.names]
    base = node.module or ""
    return [Import(path, 1, f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base) for a in node.names]
