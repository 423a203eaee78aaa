"""The edge sends a result at once when nothing is in flight, and the results that queue up behind a send (the
broker slow or away, a threads pool inspecting faster) together in the next message, each signed on its own."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu.exceptions import OperationalError

from edge_worker.celery_app import create_app
from edge_worker.contracts.queues import INGEST_QUEUE, INGEST_RESULT_TASK, INGEST_RESULTS_TASK
from edge_worker.contracts.signing import DeviceSecret, mac_matches, open_signed
from edge_worker.credentials import Credentials
from edge_worker.messaging import ResultSender
from tests.support import broker as private_redis

DEVICE = "jetson-sender-01"
SECRET = DeviceSecret.generate()


@pytest.fixture
def broker() -> Iterator[private_redis.RedisServer]:
    server = private_redis.RedisServer().start()
    yield server
    server.stop()


def make_sender(broker: private_redis.RedisServer, **kwargs: Any) -> ResultSender:
    app = create_app({"TWINWEB_EDGE_DEVICE": DEVICE}, broker_url=f"redis+socket://{broker.socket}", make_current=False)
    return ResultSender(app, credentials=Credentials(DEVICE, SECRET), **kwargs)


def sent_messages(broker: private_redis.RedisServer) -> list[tuple[str, Any]]:
    """(task name, first argument) of each message on the ingest queue, oldest first."""
    client = redis.Redis(unix_socket_path=str(broker.socket))
    messages = []
    for raw in reversed(client.lrange(INGEST_QUEUE, 0, -1)):  # kombu pushes on the left
        message = json.loads(raw)
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        messages.append((message["headers"]["task"], json.loads(body)[0][0]))
    return messages


def result_body(n: int) -> dict[str, Any]:
    return {"result_id": f"00000000-0000-4000-8000-{n:012d}", "device_id": DEVICE, "image_png_b64": "iVBORw0K"}


def verified(message: dict[str, Any]) -> dict[str, Any]:
    body, auth = open_signed(message)
    assert mac_matches(body, auth, task=INGEST_RESULT_TASK, secret=SECRET)
    return body


def send_while_another_send_is_in_flight(sender: ResultSender, count: int) -> dict[int, Any]:
    returned: dict[int, Any] = {}
    with sender._sending:  # a send in flight: the broker is slow
        threads = [
            threading.Thread(target=lambda n=n: returned.__setitem__(n, sender.send(result_body(n))))
            for n in range(count)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(sender._waiting) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(sender._waiting) == count
    for thread in threads:
        thread.join(10)
    return returned


def test_a_lone_result_goes_at_once_in_a_message_of_its_own(broker: private_redis.RedisServer) -> None:
    sender = make_sender(broker)
    message = sender.send(result_body(1))
    [(task, argument)] = sent_messages(broker)
    assert task == INGEST_RESULT_TASK
    assert argument == message and verified(argument)["result_id"] == result_body(1)["result_id"]


def test_results_that_queue_up_behind_a_send_go_together_each_signed(broker: private_redis.RedisServer) -> None:
    sender = make_sender(broker)
    returned = send_while_another_send_is_in_flight(sender, 3)
    [(task, argument)] = sent_messages(broker)
    assert task == INGEST_RESULTS_TASK
    assert sorted(verified(m)["result_id"] for m in argument) == sorted(result_body(n)["result_id"] for n in range(3))
    assert sorted(m["result_id"] for m in returned.values()) == sorted(m["result_id"] for m in argument)


def test_a_backlog_goes_in_messages_of_at_most_max_batch_results(broker: private_redis.RedisServer) -> None:
    sender = make_sender(broker, max_batch=2)
    send_while_another_send_is_in_flight(sender, 5)
    sizes = [len(argument) if task == INGEST_RESULTS_TASK else 1 for task, argument in sent_messages(broker)]
    assert sizes == [2, 2, 1]


def test_a_send_that_fails_fails_the_results_it_carried_and_keeps_none_waiting(
    broker: private_redis.RedisServer,
) -> None:
    sender = make_sender(broker)
    broker.stop()  # the broker is away and the send does not retry: each waiting caller hears of it
    with pytest.raises(OperationalError):
        sender.send(result_body(1), retry=False)
    assert sender._waiting == []
