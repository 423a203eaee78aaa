"""Every message the server and the edge exchange, defined once here and imported by both sides.

Each message is a dataclass with `from_dict` (strict: raises `MessageError` naming the field) and `to_dict` (its
exact inverse), travelling as a plain JSON dict (Celery's json serializer). Bounds are declared on each field,
through the one mechanism in `fields`.

    inspection  Capture (server -> edge), InspectionResult and Telemetry (edge -> server)
    refusal     Refusal: a message the edge could not use (edge -> server, kept as a dead letter)
    cobot       PresentView and MovePart (server -> cobot), CobotAck (cobot -> server)
    profiling   ProfileConfig (server -> edge), ProfilingReport (edge -> server)
    signing     the `auth` object every device message carries (HMAC-SHA256 with the device's secret), and the
                server's MACs on cobot commands
    queues      queue and task names
    delivery    the Celery delivery settings both sides' apps use

Pure standard library: no Django, no Celery, nothing of the server (this package runs on the Jetson).
"""

from edge_worker.contracts.cobot import CobotAck, MovePart, PresentView
from edge_worker.contracts.fields import SCHEMA_VERSION, Message, MessageError
from edge_worker.contracts.inspection import (
    Capture,
    InspectionResult,
    MeasurementRow,
    ModelRef,
    PowerSummary,
    Telemetry,
    decode_image,
    encode_image,
    image_b64_size,
    utc_now,
)
from edge_worker.contracts.profiling import PhaseTiming, ProfileConfig, ProfilingReport, VariantResult
from edge_worker.contracts.refusal import Refusal, kept_payload

__all__ = [
    "SCHEMA_VERSION",
    "Capture",
    "CobotAck",
    "InspectionResult",
    "MeasurementRow",
    "Message",
    "MessageError",
    "ModelRef",
    "MovePart",
    "PhaseTiming",
    "PowerSummary",
    "PresentView",
    "ProfileConfig",
    "ProfilingReport",
    "Refusal",
    "Telemetry",
    "VariantResult",
    "decode_image",
    "encode_image",
    "image_b64_size",
    "kept_payload",
    "utc_now",
]
