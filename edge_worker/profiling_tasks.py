"""Moved to edge_worker.profiling.tasks; kept so the server's `from edge_worker.profiling_tasks import run_profile`
still works until it imports the new module."""
from edge_worker.profiling.tasks import profile_edge, run_profile, send_report

__all__ = ["profile_edge", "run_profile", "send_report"]
