"""Model delivery between the server's model registry (`modelops/`) and a device, written once for both sides.

The device asks; the server never pushes a model. A deployment decided while the device is offline waits on the
server (a deploy intent) and the device picks it up the next time it asks (on start and on every heartbeat).

    POST <server>/api/modelops/edge/deployment  device-signed {"device_id", "current": {alias: sha256}}
        -> server-signed (server->edge, the device's own secret) {"device_id", "deployments": [Deployment...]}
    POST <server>/api/modelops/edge/download    device-signed {"device_id", "intent_id", "sha256"} -> the ONNX bytes
    POST <server>/api/modelops/edge/report      device-signed {"device_id", "intent_id", "sha256", "status", "reason",
                                                               "progress", "engines", "profiling_run_id"}
    POST <server>/api/modelops/edge/profiling   the profiling report (edge_worker.contracts.profiling.ProfilingReport)
                                                signed as STORE_PROFILING_RUN_TASK, exactly as it travels on `ingest`
    POST <server>/api/modelops/edge/shadow      device-signed {"device_id", "comparisons": [ShadowComparison...]}

Requests are signed as every device message is (edge_worker.contracts.signing.sign, the path as the task name);
the answer naming what to install is signed back with the same secret (signing.sign_command), so the sha256 the
device checks the download against comes from the server, not from whoever sits on the wire.

A deployment moves, as the device reports it, through

    downloading -> building (k of n engines) -> profiling -> installed (ready: now it may decide)
    or, at any step, refused (with the reason; the model in use stays as it was)

The device runs a new version (champion or shadow candidate) only once its engines are built and the profiling
protocol has measured it: until then it sits in the device's staging folder, not under its alias.
"""

from __future__ import annotations

DEPLOYMENT_TASK = "modelops.deployment"
DOWNLOAD_TASK = "modelops.download"
REPORT_TASK = "modelops.report"
SHADOW_TASK = "modelops.shadow"

ALIASES = ("champion", "candidate")
DOWNLOADING = "downloading"
BUILDING = "building"
PROFILING = "profiling"
IN_PROGRESS = (DOWNLOADING, BUILDING, PROFILING)
INSTALLED = "installed"  # ready: built, profiled, and now under its alias on the device
REFUSED = "refused"

PATHS = {
    DEPLOYMENT_TASK: "api/modelops/edge/deployment",
    DOWNLOAD_TASK: "api/modelops/edge/download",
    REPORT_TASK: "api/modelops/edge/report",
    SHADOW_TASK: "api/modelops/edge/shadow",
}
PROFILING_PATH = "api/modelops/edge/profiling"

# Deployment: {"intent_id": int, "alias": "champion"|"candidate", "version": str, "sha256": 64 hex, "bytes": int,
#              "card": {...model card, files.onnx.sha256 == sha256...}}
# ShadowComparison: {"result_id": str, "champion_sha256", "champion_class", "champion_confidence",
#                    "candidate_sha256", "candidate_class", "candidate_confidence"}
# EngineBuild (in a report's "engines"): {"backend", "precision", "built": bool, "seconds": float|None,
#                                         "detail": "onnxruntime 1.x ..." or "not built: TensorRT not installed"}
