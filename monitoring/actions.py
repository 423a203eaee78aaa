"""The one write of monitoring: a cell gateway's heartbeat (the contract is in monitoring/selectors.py).

No audit row: a heartbeat is the gateway's liveness, not a record of the plant, and it lives in Redis only.
"""

from __future__ import annotations

import datetime as dt

import redis
from django.conf import settings
from django.utils import timezone

from monitoring.choices import GatewayLinkState
from monitoring.selectors import GatewayHeartbeat, gateway_heartbeat_key, redis_client


def record_gateway_heartbeat(
    cell_code: str,
    *,
    state: GatewayLinkState,
    reconnects: int,
    error: str = "",
    at: dt.datetime | None = None,
    ttl_s: float | None = None,
    client: redis.Redis | None = None,
) -> GatewayHeartbeat:
    """Write the cell gateway's heartbeat: its link state to the PLC and its reconnect count, expiring after
    `ttl_s` (TWINWEB_GATEWAY_HEARTBEAT_TTL_S). Call it at least every third of the TTL, and at once on every change
    of state. Raises redis.RedisError when Redis does not answer (the gateway logs it and carries on)."""
    if reconnects < 0:
        raise ValueError("reconnects is a count: it cannot be negative")
    beat = GatewayHeartbeat(
        cell=cell_code, at=at or timezone.now(), state=GatewayLinkState(state), reconnects=reconnects, error=error[:300]
    )
    ttl_ms = int(1000 * (ttl_s if ttl_s is not None else settings.TWINWEB_GATEWAY_HEARTBEAT_TTL_S))
    (client or redis_client()).set(gateway_heartbeat_key(cell_code), beat.to_json(), px=ttl_ms)
    return beat
