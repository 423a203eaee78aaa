"""TensorRT, as shipped with JetPack: build an engine from the ONNX on the device, cache it, run it with
pycuda.

* Import: ``tensorrt`` and ``pycuda`` are imported inside functions only, never at module import, so a
  Celery prefork parent never initialises CUDA. The CUDA context is created explicitly in the process
  that runs inference (``cuda.Device(i).make_context()``), never with ``pycuda.autoinit``.
* Versions: TensorRT 8.x uses the bindings API (``execute_async_v2``); 10.x the named-tensor API
  (``set_tensor_address`` + ``execute_async_v3``). TensorRT 11 removed ``BuilderFlag.FP16/INT8`` and the
  INT8 calibrator: there fp16/int8 are refused with a reason (a strongly typed ONNX would be needed).
* Precision: fp32, fp16 (where the GPU has fast fp16), int8 with an entropy calibrator over rendered
  images (TensorRT 8.x-10.x).
* Cache: ``<cache>/<sha256[:16]>_<precision>.plan`` plus a sidecar JSON recording the model sha256, the
  TensorRT version, the GPU name and compute capability and the precision. Any mismatch rebuilds; a plan
  without a matching sidecar is never loaded.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import BackendUnavailable, Classifier, ModelInfo

log = logging.getLogger("edge_worker.vision.backends.tensorrt")

MAX_BATCH = 32
OPT_BATCH = 8
SIDECAR_KEYS = ("model_sha256", "tensorrt_version", "gpu_name", "compute_capability", "precision", "max_batch")


def _import_trt() -> Any:
    import tensorrt as trt

    return trt


def availability() -> tuple[bool, str]:
    try:
        trt = _import_trt()
    except Exception as exc:
        return False, f"tensorrt not importable: {exc}"
    try:
        import pycuda.driver as cuda
    except Exception as exc:
        return False, f"pycuda not importable: {exc}"
    try:
        cuda.init()
        if cuda.Device.count() < 1:
            return False, "no CUDA device"
        dev = cuda.Device(0)
        return True, f"tensorrt {trt.__version__} on {dev.name()} (sm_{''.join(map(str, dev.compute_capability()))})"
    except Exception as exc:
        return False, f"CUDA not usable: {exc}"


def trt_major(version: str) -> int:
    return int(version.split(".")[0])


def precision_refusal(trt_version: str, precision: str, fast_fp16: bool = True, fast_int8: bool = True) -> str | None:
    """Why this TensorRT cannot build ``precision`` (None when it can). Pure: testable without TensorRT."""
    major = trt_major(trt_version)
    if precision == "fp32":
        return None
    if major >= 11:
        return (
            f"TensorRT {trt_version} removed the {precision.upper()} builder flag and the INT8 calibrator; "
            "build from a strongly typed (modelopt autocast/quantized) ONNX instead"
        )
    if major < 8:
        return f"TensorRT {trt_version} is older than 8.x, which this backend needs"
    if precision == "fp16" and not fast_fp16:
        return "this GPU has no fast FP16 (builder.platform_has_fast_fp16 is False)"
    if precision == "int8" and not fast_int8:
        return "this GPU has no fast INT8 (builder.platform_has_fast_int8 is False)"
    return None


def cache_decision(sidecar: dict[str, Any] | None, expected: dict[str, Any]) -> tuple[bool, str]:
    """(reuse, reason): reuse the cached plan only when every recorded key matches. Pure: testable."""
    if sidecar is None:
        return False, "no cached engine"
    for key in SIDECAR_KEYS:
        if sidecar.get(key) != expected.get(key):
            return False, f"cached engine {key} {sidecar.get(key)!r} != {expected.get(key)!r}: rebuilding"
    return True, "cached engine matches model sha256, TensorRT version, GPU and precision"


def default_cache_dir() -> Path:
    return Path(os.environ.get("EDGE_WORKER_ENGINE_CACHE", Path.home() / ".cache" / "twinweb" / "trt"))


def _calibration_batches(input_size: int, count: int = 256, batch: int = 32) -> list[np.ndarray]:
    from ..dataset import iter_dataset
    from ..preprocess import preprocess

    images = [preprocess(p.image) for _i, p in iter_dataset(count, seed=9)]
    arr = np.stack(images).astype(np.float32)
    return [arr[i : i + batch] for i in range(0, len(arr), batch)]


def _make_calibrator(trt: Any, cuda: Any, input_size: int, cache_file: Path) -> Any:
    batches = _calibration_batches(input_size)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = iter(batches)
            self._dev = cuda.mem_alloc(batches[0].nbytes)

        def get_batch_size(self) -> int:
            return int(batches[0].shape[0])

        def get_batch(self, names: list[str]) -> list[int] | None:
            try:
                b = next(self._batches)
            except StopIteration:
                return None
            if b.shape[0] != batches[0].shape[0]:
                return None
            cuda.memcpy_htod(self._dev, np.ascontiguousarray(b))
            return [int(self._dev)]

        def read_calibration_cache(self) -> bytes | None:
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache: bytes) -> None:
            cache_file.write_bytes(bytes(cache))

    return EntropyCalibrator()


class TensorRTClassifier(Classifier):
    name = "tensorrt"

    def __init__(
        self, model: ModelInfo, *, precision: str, threads: int, cache_dir: Path | None = None, device_index: int = 0
    ) -> None:
        super().__init__(model)
        trt = _import_trt()
        import pycuda.driver as cuda

        self._trt, self._cuda = trt, cuda
        self.version = trt.__version__
        self.precision = precision
        self._major = trt_major(trt.__version__)
        cuda.init()
        dev = cuda.Device(device_index)
        # An explicit context in this process (not pycuda.autoinit): safe after a fork, and closed by close().
        self._ctx = dev.make_context()
        try:
            cc = "%d.%d" % dev.compute_capability()
            self.device = f"{dev.name()} (sm {cc})"
            self._logger = trt.Logger(trt.Logger.WARNING)
            expected = {
                "model_sha256": model.onnx_sha256,
                "tensorrt_version": trt.__version__,
                "gpu_name": dev.name(),
                "compute_capability": cc,
                "precision": precision,
                "max_batch": MAX_BATCH,
            }
            cache = Path(cache_dir) if cache_dir else default_cache_dir()
            cache.mkdir(parents=True, exist_ok=True)
            stem = f"{model.onnx_sha256[:16]}_{precision}_trt{trt.__version__}_sm{cc.replace('.', '')}"
            plan_path, side_path = cache / f"{stem}.plan", cache / f"{stem}.json"
            sidecar = json.loads(side_path.read_text()) if side_path.is_file() else None
            reuse, why = cache_decision(sidecar, expected)
            if reuse and plan_path.is_file():
                plan = plan_path.read_bytes()
            else:
                log.info("tensorrt: %s; building %s engine", why, precision)
                plan = self._build(model, precision, cache / f"{stem}.calib")
                plan_path.write_bytes(plan)
                side_path.write_text(json.dumps(expected, indent=2))
            self.cache_reason = why
            runtime = trt.Runtime(self._logger)
            self._engine = runtime.deserialize_cuda_engine(plan)
            if self._engine is None:
                raise BackendUnavailable(f"tensorrt: engine {plan_path} failed to deserialise")
            self._context = self._engine.create_execution_context()
            self._stream = cuda.Stream()
            s = model.input_size
            self._h_in = cuda.pagelocked_empty((MAX_BATCH, model.channels, s, s), np.float32)
            self._h_out = cuda.pagelocked_empty((MAX_BATCH, len(model.classes)), np.float32)
            self._d_in = cuda.mem_alloc(self._h_in.nbytes)
            self._d_out = cuda.mem_alloc(self._h_out.nbytes)
        finally:
            self._ctx.pop()

    def _build(self, model: ModelInfo, precision: str, calib_cache: Path) -> bytes:
        trt = self._trt
        builder = trt.Builder(self._logger)
        refusal = precision_refusal(
            trt.__version__,
            precision,
            fast_fp16=bool(getattr(builder, "platform_has_fast_fp16", True)),
            fast_int8=bool(getattr(builder, "platform_has_fast_int8", True)),
        )
        if refusal:
            raise BackendUnavailable(f"tensorrt: {refusal}")
        if self._major >= 10:
            network = builder.create_network(0)  # explicit batch is the only mode
        else:
            network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(model.verified_path("onnx").read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendUnavailable(f"tensorrt: ONNX parse failed: {errors}")
        config = builder.create_builder_config()
        if hasattr(config, "set_memory_pool_limit"):
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 28)
        else:  # TensorRT < 8.4
            config.max_workspace_size = 1 << 28
        s, c = model.input_size, model.channels
        profile = builder.create_optimization_profile()
        name = network.get_input(0).name
        profile.set_shape(name, (1, c, s, s), (OPT_BATCH, c, s, s), (MAX_BATCH, c, s, s))
        config.add_optimization_profile(profile)
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = _make_calibrator(trt, self._cuda, s, calib_cache)
            calib_profile = builder.create_optimization_profile()
            calib_profile.set_shape(name, (32, c, s, s), (32, c, s, s), (32, c, s, s))
            config.set_calibration_profile(calib_profile)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise BackendUnavailable(f"tensorrt: engine build failed for {precision}")
        return bytes(plan)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = self.check_batch(batch)
        outs = [self._run(batch[i : i + MAX_BATCH]) for i in range(0, len(batch), MAX_BATCH)]
        return np.concatenate(outs)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        cuda = self._cuda
        n = len(batch)
        self._ctx.push()
        try:
            self._h_in[:n] = batch
            # Only the n rows in use: a full MAX_BATCH copy would cost 32x the transfer for one image.
            cuda.memcpy_htod_async(self._d_in, self._h_in[:n], self._stream)
            if self._major >= 10:
                in_name, out_name = self._io_names()
                self._context.set_input_shape(in_name, batch.shape)
                self._context.set_tensor_address(in_name, int(self._d_in))
                self._context.set_tensor_address(out_name, int(self._d_out))
                self._context.execute_async_v3(stream_handle=self._stream.handle)
            else:
                self._context.set_binding_shape(0, batch.shape)
                self._context.execute_async_v2(
                    bindings=[int(self._d_in), int(self._d_out)], stream_handle=self._stream.handle
                )
            cuda.memcpy_dtoh_async(self._h_out[:n], self._d_out, self._stream)
            self._stream.synchronize()
            return np.array(self._h_out[:n])
        finally:
            self._ctx.pop()

    def _io_names(self) -> tuple[str, str]:
        trt = self._trt
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        return inputs[0], outputs[0]

    def close(self) -> None:
        ctx = getattr(self, "_ctx", None)
        if ctx is None:
            return
        ctx.push()
        try:
            self._context = None
            self._engine = None
            for attr in ("_d_in", "_d_out"):
                mem = getattr(self, attr, None)
                if mem is not None:
                    mem.free()
        finally:
            ctx.pop()
            ctx.detach()
            self._ctx = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def create(model: ModelInfo, *, precision: str, threads: int) -> Any:
    return TensorRTClassifier(model, precision=precision, threads=threads)
