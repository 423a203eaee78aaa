"""The device's side of model delivery (edge_worker.contracts.model_delivery): ask the server what to run, download
it, check it, build its engines, profile it, install it, and say so at each step. It speaks to the server with
the standard library only (urllib): it runs on the Jetson, which has no Django.

    TWINWEB_SERVER_URL          the server's base URL, e.g. https://twinweb.plant.local/   (unset: no model updates)
    TWINWEB_EDGE_MODELS_DIR     where delivered models live: <dir>/<alias>/defect_classifier.{onnx,json}
                                                                               default var/edge-models
    TWINWEB_INFERENCE_BACKEND / TWINWEB_INFERENCE_PRECISION   what the runtime runs (the engine that must build)
    TWINWEB_MODEL_PROFILE_IMAGES, _WARMUP, _ROUNDS, _VARIANTS  the profiling protocol run on each new version
                                                               (defaults: the protocol's own, every variant)
    TWINWEB_POWER_SAMPLER       the power sampler the protocol uses (auto: whatever the device has, else none)

A download is installed only when its length and sha256 are those the server's signed answer named; anything else
(a tampered or truncated file, a bad signature on the answer) is refused, reported to the server with the reason,
and the model in use stays as it was.

A verified download waits in <dir>/.staging/ while the device builds every engine it can (TensorRT where present;
each build timed and reported: "building 2 of 4") and runs the profiling protocol on it (the report goes to the
server's profiling store, so FPS and FPS/W per variant are known there). Only then is it moved under its alias,
where the runtime loads it: a model that could not be built or profiled never decides a verdict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_worker.contracts import model_delivery as md
from edge_worker.contracts.signing import AuthError, verify_command
from edge_worker.credentials import Credentials

log = logging.getLogger(__name__)

ONNX_NAME = "defect_classifier.onnx"
CARD_NAME = "defect_classifier.json"
STAGING = ".staging"

# Profiling run ids of deliveries: one per (device, deployment, model), so a redelivered deployment's report is the
# same run on the server (stored once).
PROFILING_NAMESPACE = uuid.UUID("0f6c5a3e-8d7b-4b8e-9a52-6c1d2e9b7f41")


class DeliveryRefused(Exception):
    """A model was not installed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class Preparation:
    """What the device did with one deployment so far: reported with every progress step and the final answer."""

    engines: list[dict[str, Any]] = field(default_factory=list)
    profiling_run_id: str = ""
    profiling: str = ""  # the protocol's outcome in words


@dataclass
class SyncOutcome:
    installed: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    offline: str = ""


def models_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("TWINWEB_EDGE_MODELS_DIR", "var/edge-models"))


def profile_config_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The profiling protocol's settings for a new version (a ProfileConfig as a dict; unset: its defaults)."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {"power_sampler": env.get("TWINWEB_POWER_SAMPLER", "auto").strip().lower() or "auto"}
    for key in ("images", "warmup", "rounds"):
        value = env.get(f"TWINWEB_MODEL_PROFILE_{key.upper()}", "").strip()
        if value:
            out[key] = int(value)
    variants = env.get("TWINWEB_MODEL_PROFILE_VARIANTS", "").strip()
    if variants:
        out["variants"] = [v.strip() for v in variants.split(",") if v.strip()]
    return out


def installed_sha256(models_dir: Path) -> dict[str, str]:
    """{alias: sha256} of the models installed here (from their cards)."""
    out = {}
    for alias in md.ALIASES:
        card = models_dir / alias / CARD_NAME
        if card.is_file():
            out[alias] = json.loads(card.read_text())["files"]["onnx"]["sha256"]
    return out


class ModelClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        models_dir: Path,
        *,
        timeout_s: float = 30.0,
        max_age_s: float = 600.0,
        max_skew_s: float = 300.0,
        backend: str = "auto",
        precision: str = "fp32",
        profile: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.credentials = credentials
        self.models_dir = Path(models_dir)
        self.timeout_s = timeout_s
        self.max_age_s = max_age_s
        self.max_skew_s = max_skew_s
        self.backend = backend
        self.precision = precision
        self.profile = dict(profile) if profile is not None else {"power_sampler": "auto"}

    def _post(self, task: str, body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        message = self.credentials.sign({"device_id": self.credentials.device_id, **body}, task)
        return self._send(md.PATHS[task], message)

    def _send(self, path: str, message: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(message).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return dict(response.headers.items()), response.read()

    def deployments(self) -> list[dict[str, Any]]:
        return list(self.ask().get("deployments", []))

    def ask(self) -> dict[str, Any]:
        """What the server wants this device to run, from its signed answer (AuthError when it is not signed with
        this device's secret): `deployments` to install, and the aliases its cell `assigned` now."""
        _, raw = self._post(md.DEPLOYMENT_TASK, {"current": installed_sha256(self.models_dir)})
        body, _ = verify_command(
            json.loads(raw),
            task=md.DEPLOYMENT_TASK,
            secret=self.credentials.secret,
            now=dt.datetime.now(dt.timezone.utc),
            max_age_s=self.max_age_s,
            max_skew_s=self.max_skew_s,
        )
        if body.get("device_id") != self.credentials.device_id:
            raise AuthError(f"answer for another device ({body.get('device_id')!r})")
        return body

    def download(self, deployment: Mapping[str, Any]) -> bytes:
        """The model file, checked against the signed deployment's length and sha256; DeliveryRefused otherwise."""
        expected_sha, expected_bytes = str(deployment["sha256"]), int(deployment["bytes"])
        try:
            _, data = self._post(md.DOWNLOAD_TASK, {"intent_id": deployment["intent_id"], "sha256": expected_sha})
        except urllib.error.HTTPError as exc:
            raise DeliveryRefused(f"download refused by the server: HTTP {exc.code}") from None
        if len(data) != expected_bytes:
            raise DeliveryRefused(f"truncated or padded download: {len(data)} bytes, expected {expected_bytes}")
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha:
            raise DeliveryRefused(f"sha256 mismatch: got {actual[:12]}, expected {expected_sha[:12]} (tampered)")
        card = deployment.get("card") or {}
        if card.get("files", {}).get("onnx", {}).get("sha256") != expected_sha:
            raise DeliveryRefused("the model card names another file than the one deployed")
        return data

    def staging_dir(self, deployment: Mapping[str, Any]) -> Path:
        return self.models_dir / STAGING / f"{deployment['alias']}-{str(deployment['sha256'])[:16]}"

    def stage(self, deployment: Mapping[str, Any], data: bytes) -> Path:
        """Write the verified model beside its card in the staging folder, where the runtime does not look."""
        alias = str(deployment["alias"])
        if alias not in md.ALIASES:
            raise DeliveryRefused(f"unknown alias {alias!r}")
        target = self.staging_dir(deployment)
        if target.exists():
            shutil.rmtree(target)  # a build interrupted earlier (power cut, restart): start it again
        target.mkdir(parents=True)
        card = dict(deployment["card"])
        card["files"] = {**card["files"], "onnx": {**card["files"]["onnx"], "name": ONNX_NAME}}
        (target / ONNX_NAME).write_bytes(data)
        (target / CARD_NAME).write_text(json.dumps(card, indent=1) + "\n")
        return target

    def activate(self, deployment: Mapping[str, Any], staged: Path) -> Path:
        """Move a built and profiled model under its alias (a rename per file, the card last) and clear its staging
        folder. The runtime loads what is under the aliases when the sync has returned (EdgeRuntime.reload_models)."""
        target = self.models_dir / str(deployment["alias"])
        target.mkdir(parents=True, exist_ok=True)
        for name in (ONNX_NAME, CARD_NAME):
            os.replace(staged / name, target / name)
        shutil.rmtree(staged, ignore_errors=True)
        return target

    def install(self, deployment: Mapping[str, Any], data: bytes, prepared: Preparation | None = None) -> Path:
        """Stage, build, profile and activate one verified model (DeliveryRefused, nothing activated, otherwise)."""
        prepared = prepared if prepared is not None else Preparation()
        staged = self.stage(deployment, data)
        try:
            self.build(deployment, staged, prepared)
            self.profile_model(deployment, staged, prepared)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return self.activate(deployment, staged)

    def build(self, deployment: Mapping[str, Any], staged: Path, prepared: Preparation) -> None:
        """Build every engine this device can, each timed and reported; DeliveryRefused when the runtime could not
        run the model with the backend it is configured for."""
        from edge_worker.engine_build import build_engines, engine_refusal

        def progress(k: int, n: int, label: str, done: list[Any]) -> None:
            prepared.engines = [e.to_dict() for e in done]
            self.progress(deployment, md.BUILDING, f"building {k} of {n}: {label}", prepared)

        engines = build_engines(staged, precision=self.precision, on_progress=progress)
        prepared.engines = [e.to_dict() for e in engines]
        for engine in engines:
            log.info("model %s engine %s: %s", deployment.get("version"), engine.label, engine.detail)
        refusal = engine_refusal(engines, self.backend)
        if refusal:
            raise DeliveryRefused(refusal)

    def profiling_run_id(self, deployment: Mapping[str, Any]) -> str:
        key = f"{self.credentials.device_id}:{deployment['intent_id']}:{deployment['sha256']}"
        return str(uuid.uuid5(PROFILING_NAMESPACE, key))

    def profile_model(self, deployment: Mapping[str, Any], staged: Path, prepared: Preparation) -> None:
        """Run the profiling protocol on the staged model and send its report to the server's profiling store
        (signed as the device's profiling report always is). DeliveryRefused when it could not run or measured
        nothing, or the server did not take the report."""
        from edge_worker.contracts.profiling import ProfileConfig, select_variants
        from edge_worker.contracts.queues import STORE_PROFILING_RUN_TASK
        from edge_worker.profiling.tasks import run_profile

        run_id = prepared.profiling_run_id = self.profiling_run_id(deployment)
        config = {**self.profile, "model_dir": str(staged)}
        variants = len(select_variants(ProfileConfig.from_dict(config).variants))
        self.progress(deployment, md.PROFILING, f"profiling {variants} variants", prepared)
        report = run_profile(run_id, self.credentials.device_id, config)
        measured = [v for v in report["variants"] if v["available"]]
        try:
            self._send(md.PROFILING_PATH, self.credentials.sign(report, STORE_PROFILING_RUN_TASK))
        except urllib.error.HTTPError as exc:
            raise DeliveryRefused(f"profiling report refused by the server: HTTP {exc.code}") from None
        if report["error"]:
            prepared.profiling = f"failed: {report['error']}"
            raise DeliveryRefused(f"profiling failed: {report['error']}"[:500])
        if not measured:
            prepared.profiling = "measured no variant"
            raise DeliveryRefused(
                "profiling measured no variant: " + "; ".join(v["reason"] for v in report["variants"])
            )
        prepared.profiling = f"measured {len(measured)} of {len(report['variants'])} variants"

    def report(
        self,
        deployment: Mapping[str, Any],
        *,
        status: str,
        reason: str = "",
        progress: str = "",
        prepared: Preparation | None = None,
    ) -> None:
        self._post(
            md.REPORT_TASK,
            {
                "intent_id": deployment["intent_id"],
                "sha256": deployment["sha256"],
                "status": status,
                "reason": reason[:500],
                "progress": progress[:200],
                "engines": prepared.engines if prepared else [],
                "profiling_run_id": prepared.profiling_run_id if prepared else "",
            },
        )

    def progress(self, deployment: Mapping[str, Any], status: str, progress: str, prepared: Preparation) -> None:
        """Tell the server how far the device got; best effort (the final report is the one that counts)."""
        log.info("model %s: %s", deployment.get("version"), progress)
        try:
            self.report(deployment, status=status, progress=progress, prepared=prepared)
        except (urllib.error.URLError, OSError) as exc:
            log.warning("progress of model %s not reported: %s", deployment.get("version"), exc)

    def sync(self) -> SyncOutcome:
        """Ask, download, check, install and report every pending deployment. An unreachable server is not an
        error: the intent waits on the server and the next call (start, heartbeat) picks it up."""
        outcome = SyncOutcome()
        try:
            answer = self.ask()
        except urllib.error.HTTPError:
            raise  # the server answered and refused (e.g. 403: this device's signature): not an outage
        except (urllib.error.URLError, OSError) as exc:
            outcome.offline = f"server unreachable: {exc}"
            log.warning("model sync: %s", outcome.offline)
            return outcome
        # One sync at a time (EdgeRuntime.sync_models_in_background): whatever is staged is left from a sync that
        # died (power cut, restart), and its deployment, still open on the server, is in this answer again.
        shutil.rmtree(self.models_dir / STAGING, ignore_errors=True)
        for deployment in answer.get("deployments", []):
            prepared = Preparation()
            try:
                self.progress(deployment, md.DOWNLOADING, f"downloading {deployment.get('bytes')} bytes", prepared)
                path = self.install(deployment, self.download(deployment), prepared)
            except DeliveryRefused as exc:
                log.error("model %s refused: %s", deployment.get("version"), exc.reason)
                outcome.refused.append({**deployment, "reason": exc.reason, "engines": prepared.engines})
                self.report(deployment, status=md.REFUSED, reason=exc.reason, prepared=prepared)
                continue
            outcome.installed.append(
                {**deployment, "path": str(path), "engines": prepared.engines, "profiling": prepared.profiling}
            )
            self.report(deployment, status=md.INSTALLED, progress=f"ready: {prepared.profiling}", prepared=prepared)
        assigned = answer.get("assigned", {})
        for alias in installed_sha256(self.models_dir):
            if alias not in assigned:  # e.g. the candidate once promoted: no longer run in shadow
                shutil.rmtree(self.models_dir / alias)
                outcome.retired.append(alias)
        return outcome

    def send_shadow(self, comparisons: list[dict[str, Any]]) -> None:
        self._post(md.SHADOW_TASK, {"comparisons": comparisons})


def shadow_compare(champion: Any, candidate: Any, batch: Any, *, result_id: str) -> dict[str, Any]:
    """Run both classifiers (edge_worker.vision.backends.Classifier) on one preprocessed input. Only the
    champion's verdict counts; the candidate's is recorded beside it for the comparison."""
    import numpy as np

    p_champion, p_candidate = champion.predict(batch)[0], candidate.predict(batch)[0]
    i, j = int(np.argmax(p_champion)), int(np.argmax(p_candidate))
    return {
        "result_id": result_id,
        "champion_sha256": champion.describe().get("sha256", ""),
        "champion_class": champion.model.classes[i],
        "champion_confidence": round(float(p_champion[i]), 4),
        "candidate_sha256": candidate.describe().get("sha256", ""),
        "candidate_class": candidate.model.classes[j],
        "candidate_confidence": round(float(p_candidate[j]), 4),
    }


def client_from_env(environ: Mapping[str, str] | None = None) -> ModelClient | None:
    """The client when TWINWEB_SERVER_URL is set; None otherwise (model updates off)."""
    from edge_worker.credentials import credentials_from_env

    env = os.environ if environ is None else environ
    url = env.get("TWINWEB_SERVER_URL", "").strip()
    if not url:
        return None
    return ModelClient(
        url,
        credentials_from_env(env),
        models_dir_from_env(env),
        backend=env.get("TWINWEB_INFERENCE_BACKEND", "auto"),
        precision=env.get("TWINWEB_INFERENCE_PRECISION", "fp32"),
        profile=profile_config_from_env(env),
    )
