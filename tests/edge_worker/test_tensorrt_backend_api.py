"""The TensorRT backend against stand-ins for the TensorRT and pycuda Python APIs, one per major version JetPack
ships (8.x bindings, 10.x named tensors) and 11 (no FP16/INT8 builder flags).

TensorRT and pycuda cannot be installed without NVIDIA's libraries, so these stand-ins implement the documented
call surface of each version and nothing else: a call from another version's API fails with AttributeError. The
"engine" runs the real ONNX model with ONNX Runtime over the bytes the backend copied to "device" memory, so a
wrong copy, shape or binding gives wrong probabilities, not a pass. On a machine with TensorRT,
tests/vision/test_backends.py checks the real thing.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_worker.vision.backends import BackendUnavailable, ModelInfo, create_backend
from edge_worker.vision.dataset import iter_dataset
from edge_worker.vision.preprocess import preprocess


class Allocation:
    """Device memory: bytes at an address."""

    registry: dict[int, "Allocation"] = {}
    _next = 0x7000_0000

    def __init__(self, nbytes: int) -> None:
        Allocation._next += 0x1000_0000
        self.address, self.data = Allocation._next, bytearray(nbytes)
        Allocation.registry[self.address] = self

    def __int__(self) -> int:
        return self.address

    def free(self) -> None:
        Allocation.registry.pop(self.address, None)


def fake_pycuda() -> types.ModuleType:
    driver = types.ModuleType("pycuda.driver")
    driver.calls = []  # type: ignore[attr-defined]

    class Context:
        def push(self) -> None:
            driver.calls.append("push")

        def pop(self) -> None:
            driver.calls.append("pop")

        def detach(self) -> None:
            driver.calls.append("detach")

    class Device:
        def __init__(self, index: int) -> None:
            self.index = index

        @staticmethod
        def count() -> int:
            return 1

        def name(self) -> str:
            return "Orin (stand-in)"

        def compute_capability(self) -> tuple[int, int]:
            return (8, 7)

        def make_context(self) -> Context:
            return Context()

    class Stream:
        handle = 1

        def synchronize(self) -> None:
            pass

    def memcpy_htod_async(dest: Allocation, src: np.ndarray, stream: Stream) -> None:
        raw = np.ascontiguousarray(src).tobytes()
        assert len(raw) <= len(dest.data), "host to device copy larger than the allocation"
        dest.data[: len(raw)] = raw
        driver.calls.append(("htod", len(raw)))

    def memcpy_htod(dest: Allocation, src: np.ndarray) -> None:
        memcpy_htod_async(dest, src, Stream())

    def memcpy_dtoh_async(dest: np.ndarray, src: Allocation, stream: Stream) -> None:
        assert dest.nbytes <= len(src.data), "device to host copy larger than the allocation"
        dest[...] = np.frombuffer(bytes(src.data[: dest.nbytes]), dtype=dest.dtype).reshape(dest.shape)
        driver.calls.append(("dtoh", dest.nbytes))

    driver.init = lambda: None  # type: ignore[attr-defined]
    driver.Device = Device  # type: ignore[attr-defined]
    driver.Stream = Stream  # type: ignore[attr-defined]
    driver.pagelocked_empty = lambda shape, dtype: np.zeros(shape, dtype)  # type: ignore[attr-defined]
    driver.mem_alloc = Allocation  # type: ignore[attr-defined]
    driver.memcpy_htod_async = memcpy_htod_async  # type: ignore[attr-defined]
    driver.memcpy_htod = memcpy_htod  # type: ignore[attr-defined]
    driver.memcpy_dtoh_async = memcpy_dtoh_async  # type: ignore[attr-defined]
    package = types.ModuleType("pycuda")
    package.driver = driver  # type: ignore[attr-defined]
    return package


def fake_tensorrt(version: str) -> types.ModuleType:
    """The call surface of TensorRT `version`'s Python API that an ONNX build-and-run uses."""
    major, minor = (int(n) for n in version.split(".")[:2])
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.builds = []  # type: ignore[attr-defined]

    class Logger:
        WARNING = 2

        def __init__(self, severity: int) -> None:
            self.severity = severity

    class NetworkDefinitionCreationFlag:
        EXPLICIT_BATCH = 0

    class MemoryPoolType:
        WORKSPACE = 0

    class TensorIOMode:
        INPUT, OUTPUT = 1, 2

    class Tensor:
        def __init__(self, name: str) -> None:
            self.name = name

    class Network:
        def __init__(self, flags: int) -> None:
            if major < 10:
                assert flags & (1 << NetworkDefinitionCreationFlag.EXPLICIT_BATCH), "TRT 8 ONNX needs explicit batch"
            self.onnx = b""

        def get_input(self, index: int) -> Tensor:
            return Tensor("input")

    class OnnxParser:
        def __init__(self, network: Network, logger: Logger) -> None:
            self.network, self.num_errors = network, 0

        def parse(self, model: bytes) -> bool:
            self.network.onnx = model
            return model.startswith(b"\x08")  # an ONNX protobuf begins with its ir_version field

    class Profile:
        def set_shape(self, name: str, low: tuple[int, ...], opt: tuple[int, ...], high: tuple[int, ...]) -> None:
            assert name == "input" and low[0] <= opt[0] <= high[0]
            self.shapes = (low, opt, high)

    class BuilderConfig:
        def __init__(self) -> None:
            self.flags: set[str] = set()
            self.profiles: list[Profile] = []
            self.int8_calibrator: Any = None

        def set_flag(self, flag: str) -> None:
            self.flags.add(flag)

        def add_optimization_profile(self, profile: Profile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def set_calibration_profile(self, profile: Profile) -> None:
            self.calibration_profile = profile

    if (major, minor) >= (8, 4):  # before 8.4 the workspace was the max_workspace_size attribute

        def set_memory_pool_limit(self: BuilderConfig, pool: int, size: int) -> None:
            self.max_workspace_size = size

        BuilderConfig.set_memory_pool_limit = set_memory_pool_limit  # type: ignore[attr-defined]

    class Builder:
        platform_has_fast_fp16 = True
        platform_has_fast_int8 = True

        def __init__(self, logger: Logger) -> None:
            pass

        def create_network(self, flags: int = 0) -> Network:
            return Network(flags)

        def create_builder_config(self) -> BuilderConfig:
            return BuilderConfig()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: BuilderConfig) -> bytes:
            assert config.profiles, "a dynamic batch needs an optimization profile"
            assert getattr(config, "max_workspace_size", 0) > 0, "no workspace set"
            calibrated = 0
            if "INT8" in config.flags:
                calibrator = config.int8_calibrator
                assert isinstance(calibrator, trt.IInt8EntropyCalibrator2)
                assert calibrator.read_calibration_cache() is None
                size = calibrator.get_batch_size()
                while (pointers := calibrator.get_batch(["input"])) is not None:
                    [address] = pointers
                    assert len(Allocation.registry[address].data) == size * 2 * 128 * 128 * 4
                    calibrated += 1
                calibrator.write_calibration_cache(b"calibration table")
            trt.builds.append({"flags": sorted(config.flags), "calibration_batches": calibrated})
            return b"PLAN" + network.onnx

    class Context:
        def __init__(self, engine: "Engine") -> None:
            self.engine, self.shape, self.addresses = engine, None, {}

        def _run(self, input_address: int, output_address: int) -> None:
            import onnxruntime as ort

            n = self.shape[0]
            count = int(np.prod(self.shape))
            x = np.frombuffer(bytes(Allocation.registry[input_address].data[: count * 4]), np.float32)
            session = ort.InferenceSession(self.engine.onnx, providers=["CPUExecutionProvider"])
            [y] = session.run(None, {session.get_inputs()[0].name: x.reshape(self.shape)})
            out = np.ascontiguousarray(y, np.float32).tobytes()
            Allocation.registry[output_address].data[: len(out)] = out
            trt.builds.append({"ran": n})

    if major >= 10:

        def set_input_shape(self: Context, name: str, shape: tuple[int, ...]) -> bool:
            assert name == "input"
            self.shape = tuple(shape)
            return True

        def set_tensor_address(self: Context, name: str, address: int) -> bool:
            self.addresses[name] = address
            return True

        def execute_async_v3(self: Context, stream_handle: int) -> bool:
            self._run(self.addresses["input"], self.addresses["output"])
            return True

        Context.set_input_shape = set_input_shape  # type: ignore[attr-defined]
        Context.set_tensor_address = set_tensor_address  # type: ignore[attr-defined]
        Context.execute_async_v3 = execute_async_v3  # type: ignore[attr-defined]
    else:

        def set_binding_shape(self: Context, index: int, shape: tuple[int, ...]) -> bool:
            assert index == 0
            self.shape = tuple(shape)
            return True

        def execute_async_v2(self: Context, bindings: list[int], stream_handle: int) -> bool:
            self._run(bindings[0], bindings[1])
            return True

        Context.set_binding_shape = set_binding_shape  # type: ignore[attr-defined]
        Context.execute_async_v2 = execute_async_v2  # type: ignore[attr-defined]

    class Engine:
        def __init__(self, plan: bytes) -> None:
            self.onnx = plan[4:]

        def create_execution_context(self) -> Context:
            return Context(self)

    if major >= 10:
        Engine.num_io_tensors = 2  # type: ignore[attr-defined]
        Engine.get_tensor_name = lambda self, i: ("input", "output")[i]  # type: ignore[attr-defined]
        Engine.get_tensor_mode = lambda self, name: (  # type: ignore[attr-defined]
            TensorIOMode.INPUT if name == "input" else TensorIOMode.OUTPUT
        )
        trt.TensorIOMode = TensorIOMode  # type: ignore[attr-defined]

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            pass

        def deserialize_cuda_engine(self, plan: bytes) -> Engine | None:
            return Engine(plan) if plan.startswith(b"PLAN") else None

    for name, value in {
        "Logger": Logger,
        "Builder": Builder,
        "OnnxParser": OnnxParser,
        "Runtime": Runtime,
        "NetworkDefinitionCreationFlag": NetworkDefinitionCreationFlag,
    }.items():
        setattr(trt, name, value)
    if (major, minor) >= (8, 4):
        trt.MemoryPoolType = MemoryPoolType  # type: ignore[attr-defined]
    if major < 11:  # TensorRT 11 removed the precision flags and the INT8 calibrator
        trt.BuilderFlag = types.SimpleNamespace(FP16="FP16", INT8="INT8")  # type: ignore[attr-defined]

        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2  # type: ignore[attr-defined]
    return trt


@pytest.fixture
def tensorrt_version(request: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> types.ModuleType:
    trt, pycuda = fake_tensorrt(request.param), fake_pycuda()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", pycuda.driver)
    monkeypatch.setenv("EDGE_WORKER_ENGINE_CACHE", str(tmp_path / "engines"))
    return trt


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.stack([preprocess(p.image) for _i, p in iter_dataset(40, seed=78)])


@pytest.mark.parametrize("tensorrt_version", ["8.2.1", "10.3.0"], indirect=True)
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_it_builds_caches_and_runs_an_engine_with_this_versions_api(
    tensorrt_version: types.ModuleType,
    precision: str,
    images: np.ndarray,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from edge_worker.vision.backends import tensorrt_backend

    # Two calibration batches of rendered images instead of eight: the same code, a quarter of the rendering.
    calibration = tensorrt_backend._calibration_batches
    monkeypatch.setattr(tensorrt_backend, "_calibration_batches", lambda size: calibration(size, count=64))
    reference = create_backend("onnxruntime", threads=1).predict(images)
    backend = create_backend("tensorrt", precision=precision, threads=1)
    try:
        probabilities = backend.predict(images)  # 40 images: a batch of 32 and one of 8
        one = backend.predict(images[:1])
    finally:
        backend.close()

    assert np.abs(probabilities - reference).max() < 1e-5 and np.abs(one - reference[:1]).max() < 1e-5
    [build] = [b for b in tensorrt_version.builds if "flags" in b]
    assert build["flags"] == {"fp32": [], "fp16": ["FP16"], "int8": ["INT8"]}[precision]
    assert build["calibration_batches"] == (2 if precision == "int8" else 0)
    assert [b["ran"] for b in tensorrt_version.builds if "ran" in b] == [32, 8, 1]
    copies = [c for c in sys.modules["pycuda.driver"].calls if isinstance(c, tuple) and c[0] == "htod"]
    assert copies[-1] == ("htod", 1 * 2 * 128 * 128 * 4)  # one image copied, not the whole 32-image buffer
    sidecar = json.loads(next((tmp_path / "engines").glob(f"*_{precision}_*.json")).read_text())
    assert sidecar == {
        "model_sha256": ModelInfo().onnx_sha256,
        "tensorrt_version": tensorrt_version.__version__,
        "gpu_name": "Orin (stand-in)",
        "compute_capability": "8.7",
        "precision": precision,
        "max_batch": 32,
    }

    again = create_backend("tensorrt", precision=precision, threads=1)  # same model, version and GPU: cached
    again.close()
    assert len([b for b in tensorrt_version.builds if "flags" in b]) == 1
    assert again.cache_reason.startswith("cached engine matches")


@pytest.mark.parametrize("tensorrt_version", ["11.4.0"], indirect=True)
def test_tensorrt_11_builds_fp32_and_refuses_fp16_and_int8_with_the_reason(
    tensorrt_version: types.ModuleType, images: np.ndarray
) -> None:
    backend = create_backend("tensorrt", precision="fp32", threads=1)
    try:
        assert backend.predict(images[:2]).shape == (2, 7)
    finally:
        backend.close()
    for precision in ("fp16", "int8"):
        with pytest.raises(BackendUnavailable, match="removed the .* builder flag"):
            create_backend("tensorrt", precision=precision, threads=1)
