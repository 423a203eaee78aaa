"""The device's side of model delivery (edge_worker.contracts.model_delivery): ask the server what to run, download
it, check it, install it, say so. Standard library only (urllib): it runs on the Jetson, which has no Django.

    TWINWEB_SERVER_URL          the server's base URL, e.g. https://twinweb.plant.local/   (unset: no model updates)
    TWINWEB_EDGE_MODELS_DIR     where delivered models live: <dir>/<alias>/defect_classifier.{onnx,json}
                                                                               default var/edge-models

A download is installed only when its length and sha256 are those the server's signed answer named; anything else
(a tampered or truncated file, a bad signature on the answer) is refused, reported to the server with the reason,
and the model in use stays as it was.
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


class DeliveryRefused(Exception):
    """A model was not installed; `reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class SyncOutcome:
    installed: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    offline: str = ""


def models_dir_from_env(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("TWINWEB_EDGE_MODELS_DIR", "var/edge-models"))


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
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.credentials = credentials
        self.models_dir = Path(models_dir)
        self.timeout_s = timeout_s
        self.max_age_s = max_age_s
        self.max_skew_s = max_skew_s

    def _post(self, task: str, body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        message = self.credentials.sign({"device_id": self.credentials.device_id, **body}, task)
        request = urllib.request.Request(
            self.base_url + md.PATHS[task],
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

    def install(self, deployment: Mapping[str, Any], data: bytes) -> Path:
        """Write the model beside its card, atomically per file (a reader sees the old or the new model)."""
        alias = str(deployment["alias"])
        if alias not in md.ALIASES:
            raise DeliveryRefused(f"unknown alias {alias!r}")
        target = self.models_dir / alias
        target.mkdir(parents=True, exist_ok=True)
        card = dict(deployment["card"])
        card["files"] = {**card["files"], "onnx": {**card["files"]["onnx"], "name": ONNX_NAME}}
        for name, content in ((ONNX_NAME, data), (CARD_NAME, (json.dumps(card, indent=1) + "\n").encode())):
            tmp = target / (name + ".part")
            tmp.write_bytes(content)
            os.replace(tmp, target / name)
        return target

    def report(self, deployment: Mapping[str, Any], *, status: str, reason: str = "") -> None:
        self._post(
            md.REPORT_TASK,
            {
                "intent_id": deployment["intent_id"],
                "sha256": deployment["sha256"],
                "status": status,
                "reason": reason[:500],
            },
        )

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
        for deployment in answer.get("deployments", []):
            try:
                path = self.install(deployment, self.download(deployment))
            except DeliveryRefused as exc:
                log.error("model %s refused: %s", deployment.get("version"), exc.reason)
                outcome.refused.append({**deployment, "reason": exc.reason})
                self.report(deployment, status=md.REFUSED, reason=exc.reason)
                continue
            outcome.installed.append({**deployment, "path": str(path)})
            self.report(deployment, status=md.INSTALLED)
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
    return ModelClient(url, credentials_from_env(env), models_dir_from_env(env))
