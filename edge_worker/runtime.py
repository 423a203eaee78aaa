"""What an edge worker process holds for its lifetime: the classifier, the power monitor and the FPS counter.

Created once per worker process, after any fork (CUDA/TensorRT state is not fork-safe), on the first task or
from `worker_process_init`. Configured from the environment only (the device has no database):

    TWINWEB_EDGE_DEVICE        the device id (queue `edge.<device id>`)       default jetson-demo-01
    TWINWEB_INFERENCE_BACKEND  auto | tensorrt | onnxruntime | opencv | torch | none (dimensional only)
    TWINWEB_INFERENCE_PRECISION fp32 | fp16 | int8                             default fp32
    TWINWEB_POWER_SAMPLER      auto | jtop | nvml | rapl | none
    TWINWEB_POWER_RATE_HZ      background power sampling rate                   default 10
    TWINWEB_CAMERA_<STATION>   each station's camera source (edge_worker.cameras.factory), for capture commands
    TWINWEB_CAMERA_TIMEOUT_S   how long a capture command waits for its image before an error result   default 10
    TWINWEB_EDGE_MODELS_DIR    models delivered by the server's registry (edge_worker.model_update): the
                               `champion` there replaces the shipped model; a `candidate` runs in shadow beside it
    TWINWEB_SERVER_URL         where to ask for models (on start and every TWINWEB_MODEL_SYNC_INTERVAL_S, default 60)
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.inspection import (
    Capture,
    encode_image,
    InspectionResult,
    MeasurementRow,
    ModelRef,
    PowerSummary,
    Telemetry,
    utc_now,
)
from edge_worker.power import INFERENCE, PowerMonitor, monitor_from_env

if TYPE_CHECKING:  # imported where used: the vision and camera libraries load OpenCV
    from edge_worker.cameras.factory import Cameras
    from edge_worker.vision.parts import PartTypeSpec

log = logging.getLogger(__name__)

# A cell inspects a pair of images every takt (15 s): over a few takts the rate is steady, over one telemetry
# interval (5 s) it jumps between 0 and a burst.
FPS_WINDOW_S = 60.0

# Result ids are derived from (device, capture): a capture redelivered after a worker died yields the same
# result id, so the server stores it once however often the device re-inspects it.
RESULT_NAMESPACE = uuid.UUID("5b0f4d56-3c1e-4f57-9a55-2f4c1b8e7a10")


def result_id_for(capture_id: uuid.UUID, device_id: str) -> uuid.UUID:
    return uuid.uuid5(RESULT_NAMESPACE, f"{device_id}:{capture_id}")


def device_id_from_env() -> str:
    return os.environ.get("TWINWEB_EDGE_DEVICE", "jetson-demo-01")


def _hardware() -> str:
    model = "/proc/device-tree/model"  # Jetson boards name themselves here
    try:
        with open(model, "rb") as handle:
            return handle.read().rstrip(b"\x00").decode(errors="replace").strip()
    except OSError:
        return f"{platform.machine()} {platform.processor() or platform.node()}".strip()


def _memory() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        with open("/proc/meminfo") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) for line in handle if line.split()[1:2]}
        out["total_mb"] = round(info["MemTotal"] / 1024, 1)
        out["used_mb"] = round((info["MemTotal"] - info.get("MemAvailable", info["MemFree"])) / 1024, 1)
    except (OSError, KeyError, ValueError):
        pass
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    out["worker_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def _temperatures() -> dict[str, float]:
    out: dict[str, float] = {}
    root = "/sys/class/thermal"
    try:
        zones = sorted(z for z in os.listdir(root) if z.startswith("thermal_zone"))
    except OSError:
        return out
    for zone in zones:
        try:
            with open(f"{root}/{zone}/type") as t, open(f"{root}/{zone}/temp") as v:
                out[t.read().strip()] = round(int(v.read().strip()) / 1000.0, 1)
        except (OSError, ValueError):
            continue
    return out


class EdgeRuntime:
    def __init__(
        self,
        *,
        device_id: str | None = None,
        backend: str | None = None,
        precision: str | None = None,
        monitor: PowerMonitor | None = None,
        cameras: Cameras | None = None,
    ) -> None:
        self.device_id = device_id or device_id_from_env()
        self.backend_choice = (backend or os.environ.get("TWINWEB_INFERENCE_BACKEND", "auto")).strip().lower()
        self.precision_choice = precision or os.environ.get("TWINWEB_INFERENCE_PRECISION", "fp32")
        self.classifier: Any = None
        self.shadow_classifier: Any = None  # the candidate: runs beside the champion, its verdict does not count
        self.shadow_pending: deque[dict[str, Any]] = deque(maxlen=5_000)
        self.model = ModelRef(version="", sha256="", backend="none", backend_version="", precision="", device="cpu")
        self.backend_reason = ""
        from edge_worker.model_update import models_dir_from_env

        self.models_dir = models_dir_from_env()
        self._load_classifier()
        self.monitor = monitor if monitor is not None else monitor_from_env()
        self.monitor.start()
        if cameras is None:
            from edge_worker.cameras.factory import Cameras

            cameras = Cameras(os.environ)
        self.cameras = cameras
        self.camera_timeout_s = float(os.environ.get("TWINWEB_CAMERA_TIMEOUT_S", "10"))
        self.hardware = _hardware()
        self._done: deque[float] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self._sync_thread: threading.Thread | None = None
        self._started = time.monotonic()

    def _load_classifier(self) -> None:
        if self.backend_choice == "none":
            self.backend_reason = "configured: no classifier (dimensional inspection only)"
            log.info(self.backend_reason)
            return
        try:
            from edge_worker.vision.backends import load_classifier

            delivered = self.models_dir / "champion"
            model_dir = delivered if (delivered / "defect_classifier.json").is_file() else None
            self.classifier, self.backend_reason = load_classifier(
                self.backend_choice, precision=self.precision_choice, model_dir=model_dir
            )
            self.shadow_classifier = self._load_candidate()
        except Exception as exc:  # no model files or no runtime: inspect dimensions only, and say so in every result
            self.classifier = None
            self.backend_reason = f"classifier not loaded ({type(exc).__name__}: {exc}); dimensional inspection only"
            log.warning(self.backend_reason)
            return
        d = self.classifier.describe()
        self.model = ModelRef(
            version=str(d.get("version", "")),
            sha256=str(d.get("sha256", "")),
            backend=str(d.get("backend", "")),
            backend_version=str(d.get("backend_version", "")),
            precision=str(d.get("precision", "")),
            device=str(d.get("device", "")),
            alias="champion" if model_dir is not None else "",
        )

    def _load_candidate(self) -> Any:
        candidate: Path = self.models_dir / "candidate"
        if not (candidate / "defect_classifier.json").is_file():
            return None
        from edge_worker.vision.backends import load_classifier

        try:
            classifier, reason = load_classifier(
                self.backend_choice, precision=self.precision_choice, model_dir=candidate
            )
        except Exception as exc:  # a candidate that cannot load leaves the champion alone
            log.warning("shadow candidate not loaded: %s: %s", type(exc).__name__, exc)
            return None
        log.info("shadow candidate: %s", reason)
        return classifier

    def reload_models(self) -> None:
        """After a delivery: load the champion and candidate now installed (between two inspections)."""
        with self._lock:
            self._load_classifier()
        # The replaced classifiers are not closed here: an inspection on another thread may still hold one; they
        # are released when the last reference goes.

    def sync_models(self) -> str:
        """Ask the server for models (on start and on heartbeats); reload when one was installed. Returns what
        happened, in words; never raises (the device inspects on with what it has)."""
        from edge_worker.model_update import client_from_env

        try:
            client = client_from_env()
            if client is None:
                return "model updates off: TWINWEB_SERVER_URL not set"
            if self.shadow_pending:
                batch = [self.shadow_pending.popleft() for _ in range(min(len(self.shadow_pending), 1000))]
                try:
                    client.send_shadow(batch)
                except Exception:
                    self.shadow_pending.extendleft(reversed(batch))
                    raise
            outcome = client.sync()
        except Exception as exc:
            log.warning("model sync failed: %s: %s", type(exc).__name__, exc)
            return f"model sync failed: {exc}"
        if outcome.installed or outcome.retired:
            self.reload_models()
        return outcome.offline or (
            f"installed {[d['version'] for d in outcome.installed]}, "
            f"refused {[(d['version'], d['reason']) for d in outcome.refused]}, "
            f"retired {outcome.retired}"
        )

    def sync_models_in_background(self) -> bool:
        """`sync_models` on a thread of its own, so a delivery's engine builds and profiling (minutes on a Jetson,
        for a TensorRT plan) neither hold the inspections back (the models in use go on deciding) nor silence the
        telemetry. False when a sync is still running (the next beat tries again)."""
        with self._lock:
            if self._sync_thread is not None and self._sync_thread.is_alive():
                return False
            self._sync_thread = threading.Thread(
                target=lambda: log.info("model sync: %s", self.sync_models()), name="edge-model-sync", daemon=True
            )
            self._sync_thread.start()
        return True

    def _shadow(self, image: bytes, result_id: uuid.UUID) -> None:
        """Classify the same capture with the candidate; the comparison waits for the next heartbeat."""
        import cv2
        import numpy as np

        from edge_worker.model_update import shadow_compare
        from edge_worker.vision.preprocess import normalise_uint8, to_uint8_input

        try:
            grey = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                return
            batch = normalise_uint8(to_uint8_input(grey)[None])
            self.shadow_pending.append(
                shadow_compare(self.classifier, self.shadow_classifier, batch, result_id=str(result_id))
            )
        except Exception as exc:  # the shadow never costs the champion's verdict
            log.warning("shadow comparison failed: %s", exc)

    def inspect(self, capture: Capture) -> InspectionResult:
        """Inspect one capture; the result carries the model, latency and power over the inference window."""
        from edge_worker.cameras.base import CameraError, FrameRequest
        from edge_worker.vision.inspect import InspectionOutcome, inspect_image
        from edge_worker.vision.parts import PartTypeSpec

        spec: PartTypeSpec | None = None
        spec_problem = ""
        try:
            spec = PartTypeSpec.from_dict(capture.part_type)
        except (KeyError, TypeError, ValueError) as exc:
            spec_problem = f"part type specification unusable: {exc!r}"
        captured_at = capture.captured_at
        camera_problem = ""
        if capture.is_command:  # the cell's trigger: the image comes from this station's own camera
            frame = self.cameras.capture(
                FrameRequest(
                    station=capture.station,
                    serial=capture.serial,
                    capture_id=capture.capture_id,
                    timeout_s=self.camera_timeout_s,
                    part_type=spec,
                    view=capture.view,
                )
            )
            if isinstance(frame, CameraError):
                image, camera_problem = b"", f"no image from the camera: {frame.reason}"
            else:
                image, captured_at = frame.png, frame.taken_at
        else:
            try:
                image = capture.image_bytes
            except MessageError as exc:  # reported as an error result (the server keeps it), never dropped here
                image = b""
                log.error("capture %s: %s", capture.capture_id, exc)
        started = time.perf_counter()
        with self.monitor.window(INFERENCE) as window:
            if camera_problem or spec is None:
                outcome = InspectionOutcome(verdict="error", reason=camera_problem or spec_problem)
            else:
                outcome = inspect_image(
                    image,
                    spec,
                    classifier=self.classifier,
                    px_per_mm=capture.px_per_mm,
                    job=capture.job,
                    view=capture.view,
                    lens_k1=capture.lens_k1,
                )
        latency_ms = (time.perf_counter() - started) * 1000.0
        with self._lock:
            self._done.append(time.monotonic())
        power = window.power
        if power is not None and power.energy_mj is not None and power.avg_power_mw is not None:
            summary = PowerSummary(
                round(power.avg_power_mw, 3),
                round(power.energy_mj, 6),
                f"{self.monitor.sampler.name}: {power.samples} samples over {power.duration_s * 1000:.1f} ms",
            )
        else:
            summary = PowerSummary.not_measured(power.note if power is not None else "no window")
        verdict = outcome.verdict
        if self.shadow_classifier is not None and self.classifier is not None and image and spec is not None:
            self._shadow(image, result_id_for(capture.capture_id, self.device_id))
        measurements = tuple(MeasurementRow.from_vision(row) for row in outcome.measurements)
        return InspectionResult(
            result_id=result_id_for(capture.capture_id, self.device_id),
            capture_id=capture.capture_id,
            device_id=self.device_id,
            serial=capture.serial,
            station=capture.station,
            cell=capture.cell,
            verdict=verdict,
            reason=outcome.reason,
            measurements=measurements,
            findings=outcome.findings,
            defect_class=outcome.defect_class,
            defect_confidence=outcome.defect_confidence,
            class_probabilities=outcome.class_probabilities,
            model=self.model,
            latency_ms=round(latency_ms, 3),
            timings_ms=outcome.timings_ms,
            power=summary,
            image_png_b64=capture.image_png_b64 or (encode_image(image) if image else ""),
            image_sha256=hashlib.sha256(image).hexdigest() if image else "",
            captured_at=captured_at,
            inspected_at=utc_now(),
            drawing_revision=str(capture.part_type.get("revision", ""))[:10],
            calibration_id=capture.calibration_id,
        )

    def fps(self, over_s: float = FPS_WINDOW_S) -> float:
        """Images inspected per second over the last `over_s` seconds (or since start, if that is shorter)."""
        now = time.monotonic()
        window = min(over_s, now - self._started)
        if window <= 0:
            return 0.0
        with self._lock:
            recent = sum(1 for t in self._done if now - t <= window)
        return round(recent / window, 3)

    def telemetry(self, *, over_s: float = FPS_WINDOW_S) -> Telemetry:
        extras = self.monitor.sampler.extras()
        memory = {**_memory(), **extras.get("memory", {})}
        temperature = extras.get("temperature") or _temperatures()
        return Telemetry(
            device_id=self.device_id,
            at=utc_now(),
            fps=self.fps(over_s),
            power_mw=self.monitor.latest_mw() if self.monitor.measuring else None,
            memory=memory,
            temperature=temperature,
            gpu_load=extras.get("gpu_load"),
            backend=self.model.backend,
            precision=self.model.precision,
            model_version=self.model.version,
            hardware=str(extras.get("hardware") or self.hardware)[:200],
            power_source=self.monitor.sampler.describe()[:200],
        )

    def close(self) -> None:
        self.cameras.close()
        self.monitor.stop()
        for classifier in (self.classifier, self.shadow_classifier):
            if classifier is not None:
                classifier.close()


_runtime: EdgeRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> EdgeRuntime:
    """The process's runtime, created on first use (in the worker process, after any fork)."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                _runtime = EdgeRuntime()
    return _runtime


def reset_runtime() -> None:
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
        _runtime = None


__all__ = ["EdgeRuntime", "get_runtime", "reset_runtime", "result_id_for"]
