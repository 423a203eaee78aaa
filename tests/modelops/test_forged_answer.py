"""The device believes only an answer signed with its own secret: a server (or anyone on the wire) that names a
model without that signature installs nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from edge_worker.contracts import model_delivery as md
from edge_worker.contracts.signing import AuthError, DeviceSecret, sign_command
from edge_worker.credentials import Credentials
from edge_worker.model_update import ModelClient, installed_sha256

DEVICE = "jetson-forged-01"


def forged_server(answer_secret: DeviceSecret, device_id: str) -> HTTPServer:
    body = {
        "device_id": device_id,
        "assigned": {"champion": "0" * 64},
        "deployments": [
            {
                "intent_id": 1,
                "alias": "champion",
                "version": "evil",
                "sha256": "0" * 64,
                "bytes": 3,
                "card": {"files": {"onnx": {"sha256": "0" * 64}}},
            }
        ],
    }

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers["Content-Length"]))
            data = (
                b"bad"
                if self.path.endswith("download")
                else json.dumps(sign_command(body, task=md.DEPLOYMENT_TASK, secrets_in_force=[answer_secret])).encode()
            )
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return HTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def secret() -> DeviceSecret:
    return DeviceSecret.generate()


def serve(server: HTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "signed_with, device_named, problem",
    [
        ("other", DEVICE, "not signed for this device's secret"),
        ("own", "jetson-someone-else", "answer for another device"),
    ],
)
def test_it_installs_nothing_from_an_answer_it_cannot_trust(
    secret: DeviceSecret, tmp_path: Path, signed_with: str, device_named: str, problem: str
) -> None:
    answer_secret = secret if signed_with == "own" else DeviceSecret.generate()
    for url in serve(forged_server(answer_secret, device_named)):
        client = ModelClient(url, Credentials(DEVICE, secret), tmp_path / "edge", timeout_s=5)
        with pytest.raises(AuthError, match=problem):
            client.sync()
    assert installed_sha256(tmp_path / "edge") == {}
