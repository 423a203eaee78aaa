"""Inspection models, one module per capability; import them from here."""
from inspection.models.core import DeadLetter, DefectFinding, EdgeDevice, ImageBlob, Inspection, Measurement
from inspection.models.edge import *  # noqa: F401,F403  (edge worker telemetry)
from inspection.models.live import *  # noqa: F401,F403  (live view: alarms)
from inspection.models.review import *  # noqa: F401,F403  (Debug Mode reviews and signatures)
from inspection.models.profiling import *  # noqa: F401,F403  (edge profiling runs)

__all__ = ["DeadLetter", "DefectFinding", "EdgeDevice", "ImageBlob", "Inspection", "Measurement"]
