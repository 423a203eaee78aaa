"""The issue's "done when", in a browser: a quality engineer starts training of a candidate on the registry page, a
real Celery worker on the training queue trains and registers it, the page compares it with today's champion on
the golden set, the engineer deploys it as candidate to the cell's edge device (signed), the device builds and
profiles it and runs it in shadow beside the champion, and the engineer promotes it (signed) and rolls it back
(signed). Every step leaves its audit record and every alias move its electronic signature.

A real Daphne serves the pages, headless Chromium is the engineer's browser; the edge device is the edge worker's
own runtime (edge_worker.runtime.EdgeRuntime) in this process, talking to Daphne over the signed delivery HTTP."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from edge_worker.contracts import Capture, encode_image, utc_now
from edge_worker.model_update import installed_sha256
from edge_worker.power import NoneSampler, PowerMonitor
from edge_worker.runtime import EdgeRuntime
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part
from modelops import actions
from modelops.choices import Alias, AliasChangeKind, DeployStatus
from modelops.models import AliasChange, DeployIntent, ModelAlias, ModelVersion, ShadowComparison, TrainingRun
from profiling.models import ProfilingRun
from tests.accessibility.test_axe_e2e import describe, violations
from tests.modelops.support import PASSWORD, device_of, shipped_version
from tests.support import browser as chromium
from tests.support import processes
from traceability.choices import RecordSignatureMeaning
from traceability.models import AuditRecord, RecordSignature

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(600),
    chromium.requires_chromium,
]


@pytest.fixture
def fast_password_hashing() -> None:
    """The server process checks the signer's password with the real hashers, so the user's hash must be a real one."""


def capture_for(device_id: str, seed: int, defect: str) -> Capture:
    png = encode_png(render_part("CF-80", seed=seed, defect=defect).image)
    return Capture(
        uuid.uuid4(),
        f"SN-{seed}",
        "visual",
        "c",
        DEMO_PART_TYPES["CF-80"].to_dict(),
        encode_image(png),
        utc_now(),
        device_id,
    )


def test_a_quality_engineer_takes_a_candidate_from_training_to_rollback_in_the_browser(
    cell: Any, quality_engineer: Any, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MEDIA_ROOT = media = tmp_path / "media"
    queue = f"training-browser-{uuid.uuid4().hex[:8]}"
    env = processes.worker_env(django_settings.REDIS_URL, media, TWINWEB_TRAINING_QUEUE=queue)
    # Today: the shipped model is the cell's champion, on the cell's device.
    device, credentials = device_of(cell, quality_engineer)
    champion = shipped_version(quality_engineer)
    actions.assign_alias(
        champion, cell=cell, alias=Alias.CHAMPION, actor=quality_engineer, credential=PASSWORD, reason="today's model"
    )

    with (
        processes.daphne(env, tmp_path / "daphne.log") as server,
        processes.celery_worker(env, queue, tmp_path / "training.log"),
        sync_playwright() as pw,
    ):
        for name, value in {
            "TWINWEB_SERVER_URL": server.url,
            "TWINWEB_EDGE_DEVICE": device.device_id,
            "TWINWEB_EDGE_SECRET": credentials.secret.text(),
            "TWINWEB_EDGE_MODELS_DIR": str(tmp_path / "edge-models"),
            "TWINWEB_MODEL_PROFILE_IMAGES": "4",
            "TWINWEB_MODEL_PROFILE_WARMUP": "0",
            "TWINWEB_MODEL_PROFILE_ROUNDS": "1",
            "TWINWEB_POWER_SAMPLER": "none",
        }.items():
            monkeypatch.setenv(name, value)
        edge = EdgeRuntime(device_id=device.device_id, backend="onnxruntime", monitor=PowerMonitor(NoneSampler()))
        try:
            assert edge.sync_models().startswith("installed ['defect-")  # the champion, built and profiled
            assert edge.model.sha256 == champion.sha256 and edge.model.alias == "champion"

            browser = chromium.launch(pw)
            context = browser.new_context()
            context.add_cookies([chromium.session_cookie_for(quality_engineer, server.url)])
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

            # 1. The registry: start training of a candidate (tiny, on the CPU).
            page.goto(f"{server.url}/modelops/")
            form = page.locator("form.train-form")
            for name, value in {
                "epochs": "1",
                "train_per_class": "1",
                "val_per_class": "1",
                "golden_rendered": "14",
            }.items():
                form.locator(f"[name={name}]").fill(value)
            form.get_by_role("button", name="Start training").click()
            expect(page.locator("body")).to_contain_text("queued")
            run = TrainingRun.objects.get()

            def trained() -> bool:
                page.reload()
                return "Done" in page.locator(f'tr[data-run="{run.pk}"]').inner_text()

            processes.wait_for(
                trained, 400, "the training run to finish", on_fail=lambda: (tmp_path / "training.log").read_text()
            )
            run.refresh_from_db()
            candidate = run.version
            assert candidate is not None and candidate != champion
            expect(page.locator(f'tr[data-run="{run.pk}"]')).to_contain_text("1/1 loss")

            # 2. The candidate's page: its golden-set figures against today's champion, on the same images.
            page.locator(f'tr[data-run="{run.pk}"] a').click()
            expect(page.locator("h1")).to_have_text(candidate.version)
            expect(page.locator("body")).to_contain_text(f"Against the champion of {cell.code} ({champion.version})")
            expect(page.locator("table.comparison")).to_contain_text("accuracy")
            expect(page.locator("body")).to_contain_text("Both measured on the same golden-set images")

            # 3. Deploy it as the cell's candidate (shadow), signed.
            deploy = page.locator("form.assign-form")
            deploy.get_by_label("Cell").select_option(cell.code)
            deploy.get_by_label("Alias").select_option(Alias.CANDIDATE)
            deploy.get_by_label("Reason").fill("shadow the retrained model")
            deploy.get_by_label("Password or signing PIN").fill(PASSWORD)
            deploy.get_by_role("button", name="Sign and deploy").click()
            expect(page.locator("body")).to_contain_text(f"{cell.code} candidate is now {candidate.version}")

            # The device picks it up, builds and profiles it, and only then runs it in shadow.
            assert edge.shadow_classifier is None
            assert edge.sync_models().startswith(f"installed ['{candidate.version}']")
            assert edge.shadow_classifier is not None and edge.model.sha256 == champion.sha256
            page.reload()
            delivery = page.locator(f'section.delivery[data-device="{device.device_id}"][data-alias="candidate"]')
            expect(delivery).to_contain_text("Ready on the device (built and profiled)")
            expect(delivery.locator('tr[data-backend="onnxruntime"]')).to_contain_text(" s")
            expect(delivery.locator('tr[data-backend="tensorrt"]')).to_contain_text("not built")
            expect(delivery.locator(".delivery-profiling a")).to_have_text("Done")
            assert not (found := violations(page)), describe(found)

            results = [
                edge.inspect(capture_for(device.device_id, seed, d))
                for seed, d in enumerate(["scratch", "ok", "dent"], 3)
            ]
            assert {r.model.sha256 for r in results} == {champion.sha256}  # only the champion's verdict counts
            edge.sync_models()  # the heartbeat sends the comparisons
            page.reload()
            expect(page.locator("body")).to_contain_text("3 captures compared on devices")

            # 4. Promote it, signed, on the registry.
            page.goto(f"{server.url}/modelops/")
            row = page.locator(f'tr[data-cell="{cell.code}"][data-alias="candidate"]')
            row.get_by_text("Promote to champion…").click()  # the signature prompt: who signs, and what it means
            expect(row.locator(".sign-meaning")).to_contain_text(
                f"approving that {candidate.version} becomes the champion of {cell.code}"
            )
            row.get_by_label("Reason").fill("agrees with the champion in shadow, better on the golden set")
            row.get_by_label("Password or signing PIN").fill(PASSWORD)
            row.get_by_role("button", name="Sign and promote").click()
            expect(page.locator("body")).to_contain_text(f"{cell.code} champion is now {candidate.version}")
            assert edge.sync_models().startswith(f"installed ['{candidate.version}']")
            assert edge.model.sha256 == candidate.sha256 and edge.shadow_classifier is None

            # 5. Roll it back, signed.
            row = page.locator(f'tr[data-cell="{cell.code}"][data-alias="champion"]')
            row.get_by_text("Roll back…").click()
            expect(row.locator(".sign-meaning")).to_contain_text(f"goes back to {champion.version}")
            assert not (found := violations(page)), describe(found)  # the registry, its signature prompt open
            row.get_by_label("Reason").fill("operators disagree with it on dents")
            row.get_by_label("Password or signing PIN").fill(PASSWORD)
            row.get_by_role("button", name="Sign and roll back").click()
            expect(page.locator("body")).to_contain_text(f"{cell.code} champion is now {champion.version}")
            assert edge.sync_models().startswith(f"installed ['{champion.version}']")
            assert edge.model.sha256 == champion.sha256
            assert installed_sha256(tmp_path / "edge-models") == {"champion": champion.sha256}
            expect(page.locator("ul.changes")).to_contain_text("Rolled back to the previous champion")
            assert not errors, errors
            browser.close()
        finally:
            edge.close()

    # Every step is audited, and every alias move carries the engineer's signature.
    actions_done = list(AuditRecord.objects.order_by("id").values_list("action", flat=True))
    for step in (
        "modelops.training.requested",
        "modelops.version.registered",
        "modelops.alias.assign",
        "modelops.deploy.installed",
        "modelops.alias.promote",
        "modelops.alias.rollback",
    ):
        assert step in actions_done, (step, actions_done)
    assert actions_done.count("modelops.deploy.installed") == 4  # champion, candidate, promoted, rolled back
    registered = json.loads(
        AuditRecord.objects.get(action="modelops.version.registered", subject_key=candidate.sha256).payload
    )
    assert registered["after"]["version"] == candidate.version
    moves = list(AliasChange.objects.order_by("id").values_list("kind", "alias", "to_version__sha256"))
    assert moves[1:] == [
        (AliasChangeKind.ASSIGN, Alias.CANDIDATE, candidate.sha256),
        (AliasChangeKind.PROMOTE, Alias.CHAMPION, candidate.sha256),
        (AliasChangeKind.PROMOTE, Alias.CANDIDATE, None),
        (AliasChangeKind.ROLLBACK, Alias.CHAMPION, champion.sha256),
    ]
    # Each move a person made is signed; only the promotion's clearing of the candidate rides on its signature.
    unsigned = AliasChange.objects.filter(signature_id=None).values_list("kind", "alias")
    assert list(unsigned) == [(AliasChangeKind.PROMOTE, Alias.CANDIDATE)]
    signatures = RecordSignature.objects.filter(meaning=RecordSignatureMeaning.MODEL_ALIAS, signer=quality_engineer)
    assert signatures.count() == 4  # today's champion, the candidate, the promotion, the rollback
    assert ModelAlias.objects.get(cell=cell, alias=Alias.CHAMPION).version == champion
    assert ShadowComparison.objects.filter(candidate=candidate).count() == 3
    assert ProfilingRun.objects.filter(model_sha256=candidate.sha256, status="done").exists()
    assert set(DeployIntent.objects.values_list("status", flat=True)) <= {DeployStatus.INSTALLED}
    assert ModelVersion.objects.count() == 2
