"""Moved to edge_worker.contracts (messages) and edge_worker.contracts.queues (queue and task names). These
re-exports keep the server's existing `from edge_worker.messages import ...` working until it imports the new
modules; nothing in edge_worker imports this module."""
from edge_worker.contracts.fields import SCHEMA_VERSION, MessageError
from edge_worker.contracts.inspection import (
    VERDICTS,
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
from edge_worker.contracts.queues import (
    INGEST_QUEUE,
    INGEST_REFUSAL_TASK,
    INGEST_RESULT_TASK,
    INGEST_TELEMETRY_TASK,
    INSPECT_CAPTURE_TASK,
    cobot_queue,
    edge_queue,
)
from edge_worker.contracts.refusal import KEPT_PAYLOAD_CAP, KEPT_STRING_CAP, REFUSAL_NAMESPACE, Refusal, kept_payload

__all__ = [
    "INGEST_QUEUE", "INGEST_REFUSAL_TASK", "INGEST_RESULT_TASK", "INGEST_TELEMETRY_TASK", "INSPECT_CAPTURE_TASK",
    "KEPT_PAYLOAD_CAP", "KEPT_STRING_CAP", "REFUSAL_NAMESPACE", "SCHEMA_VERSION", "VERDICTS", "Capture",
    "InspectionResult", "MeasurementRow", "MessageError", "ModelRef", "PowerSummary", "Refusal", "Telemetry",
    "cobot_queue", "decode_image", "edge_queue", "encode_image", "image_b64_size", "kept_payload", "utc_now",
]
