"""Create or refresh the five role groups and their permissions (also runs after every migrate)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from traceability.roles import sync_roles


class Command(BaseCommand):
    help = "Create or refresh the role groups: operator, supervisor, auditor, quality engineer, admin."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, group in sync_roles().items():
            self.stdout.write(f"{name}: {group.permissions.count()} permissions")
