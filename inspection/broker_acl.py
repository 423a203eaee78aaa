"""The production Redis users (Redis 7 or later): the server's, and one per edge device that may push onto the
`ingest` queue and consume its own queues, and nothing else. `manage.py redis_acl` writes them;
docs/deploy/redis-users.acl shows the result.

What an edge device's worker does on the broker, and so what its user may do (kombu's Redis transport, checked
against a real redis-server in tests/inspection/test_redis_acl.py):

    send to the server     LPUSH ingest          (a selector of its own, `(+lpush %W~ingest)`: LPUSH and nothing else,
                           write-only: it can neither read the queue nor DEL, trim or expire it, which the
                           commands it needs on its own keys would otherwise allow)
    consume its queues     BRPOP edge.<device> cobot.<cell>; LLEN when it declares them
    declare its queues     SADD _kombu.binding[_permanent].<its queue>   (never the ingest queue's: it publishes
                           with `declare=[]`, see edge_worker/messaging.py)
    unacknowledged ones    HSET/HGET/HDEL edge.<device>.unacked, ZADD/ZREM/ZRANGE edge.<device>.unacked_index,
                           SET NX + EVALSHA (get, del) edge.<device>.unacked_mutex, MULTI/EXEC/WATCH; put back on
                           its own queues with LPUSH/RPUSH (edge_worker.celery_app.edge_broker_keys makes these
                           keys its own: kombu's default `unacked` hash is shared by every consumer)
    connect                HELLO/AUTH, PING, SELECT

No pub/sub at all (`resetchannels`; remote control is off on the edge), no other key, no other command. Redis
checks the commands a script runs against the same rules.
Within those keys a device can still push onto its own queues (kombu puts unacknowledged messages back there):
it can queue captures or cobot commands for itself, which its own secret could sign anyway.

The server's user has every key and channel and every command except the dangerous ones (FLUSHALL, CONFIG,
KEYS, DEBUG, ACL, SHUTDOWN, MONITOR...): Celery, kombu, channels_redis and the nonce store need none of them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from edge_worker.celery_app import edge_broker_keys
from edge_worker.contracts.queues import INGEST_QUEUE, cobot_queue, edge_queue

SERVER_USER = "twinweb"
EDGE_COMMANDS = (
    # connecting: redis-py sends HELLO with the credentials (and, to Redis 7.2 or later, CLIENT SETINFO, whose
    # refusal it ignores: Redis 7.0 does not know the command, so an ACL file naming it would not load there)
    "+hello",
    "+auth",
    "+ping",
    "+select",
    "+echo",
    "+quit",
    "+reset",
    # consuming its own queues (and putting unacknowledged messages back on them)
    "+lpush",
    "+rpush",
    "+brpop",
    "+llen",
    # binding its own queues when it declares them
    "+sadd",
    # kombu's bookkeeping of unacknowledged messages, and the mutex around putting them back
    "+hset",
    "+hget",
    "+hdel",
    "+zadd",
    "+zrem",
    "+zrange",
    "+zrangebyscore",
    "+zrevrangebyscore",
    "+set",
    "+get",
    "+del",
    "+evalsha",
    "+script|load",
    "+multi",
    "+exec",
    "+discard",
    "+watch",
    "+unwatch",
)


def edge_user(device_id: str) -> str:
    return f"edge-{device_id}"


def edge_keys(device_id: str, cell_code: str | None) -> list[str]:
    """Every key a device's user may read and write (its queues, their binding sets, its bookkeeping)."""
    queues = [edge_queue(device_id)] + ([cobot_queue(cell_code)] if cell_code else [])
    bookkeeping = edge_broker_keys(device_id)
    keys = list(queues)
    for queue in queues:
        keys += [f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    keys += [bookkeeping["unacked_key"], bookkeeping["unacked_index_key"], bookkeeping["unacked_mutex_key"]]
    return keys


# Pushing onto the server's queue: this command on this key, write-only (a Redis 7 selector).
PUBLISH_SELECTOR = f"(+lpush %W~{INGEST_QUEUE})"


def edge_rules(device_id: str, cell_code: str | None) -> list[str]:
    # Device ids and cell codes are slugs (letters, digits, - and _): no glob character, so each pattern names
    # exactly one key.
    return [
        "resetkeys",
        "resetchannels",
        "-@all",
        *EDGE_COMMANDS,
        *[f"~{key}" for key in edge_keys(device_id, cell_code)],
        PUBLISH_SELECTOR,
    ]


def server_rules() -> list[str]:
    return ["resetkeys", "resetchannels", "~*", "&*", "+@all", "-@dangerous"]


def password_hash(password: str) -> str:
    """How an ACL file holds a password: its SHA-256 (Redis never needs the password itself)."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


@dataclass(frozen=True)
class RedisUser:
    name: str
    rules: list[str]
    password: str

    def acl_line(self) -> str:
        return " ".join(["user", self.name, "on", password_hash(self.password), *self.rules])


def new_password() -> str:
    return secrets.token_urlsafe(32)


def server_user(password: str | None = None) -> RedisUser:
    return RedisUser(SERVER_USER, server_rules(), password or new_password())


def device_user(device_id: str, cell_code: str | None, password: str | None = None) -> RedisUser:
    return RedisUser(edge_user(device_id), edge_rules(device_id, cell_code), password or new_password())


DEFAULT_USER_OFF = "user default off resetkeys resetchannels -@all"
