"""Edge profiling: the deck's performance-per-watt protocol, run on the device for every variant it has.

    deck       the deck's arithmetic (FPS per watt, energy per image) and its published figures
    memory     the process's and device's memory, sampled in the background
    variants   what this device can run, and building each variant's engine
    protocol   the protocol runner (Profiler, profile_device) and the report's context
    tasks      the Celery task on `edge.<device id>`

The request and the report are messages: edge_worker.contracts.profiling.

The names below are re-exported for the server's existing imports (`from edge_worker.profiling import ...`);
new code imports them from their modules or from edge_worker.contracts.
"""
from edge_worker.contracts.fields import SCHEMA_VERSION
from edge_worker.contracts.profiling import (
    PHASES,
    VARIANT_KEYS,
    VARIANTS,
    ProfileConfig,
    ProfilingReport,
    VariantResult,
    select_variants,
)
from edge_worker.contracts.queues import PROFILE_EDGE_TASK as PROFILE_TASK
from edge_worker.contracts.queues import STORE_PROFILING_RUN_TASK as STORE_TASK
from edge_worker.profiling.deck import DECK_ROWS, deck_check, energy_per_image_mj, fps_per_watt
from edge_worker.profiling.memory import MemoryMonitor
from edge_worker.profiling.protocol import Profiler, failure_report, percentile, profile_device, render_test_set

__all__ = [
    "DECK_ROWS", "PHASES", "PROFILE_TASK", "SCHEMA_VERSION", "STORE_TASK", "VARIANTS", "VARIANT_KEYS",
    "MemoryMonitor", "ProfileConfig", "Profiler", "ProfilingReport", "VariantResult", "deck_check",
    "energy_per_image_mj", "failure_report", "fps_per_watt", "percentile", "profile_device", "render_test_set",
    "select_variants",
]
