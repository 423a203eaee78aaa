"""The edge's own Celery app: configured from the environment alone, delivering exactly as the server's app does
(late acknowledgement, redelivery, the same visibility timeout, JSON only), and naming the tasks both sides
agree on."""

from __future__ import annotations

import pytest
from django.conf import settings

from edge_worker.celery_app import (
    BROKER_VARIABLES,
    EdgeConfigError,
    broker_url_from_env,
    create_app,
)
from edge_worker.contracts.delivery import delivery_settings
from edge_worker.contracts.queues import (
    COBOT_ACK_TASK,
    INGEST_REFUSAL_TASK,
    INGEST_RESULT_TASK,
    INGEST_TELEMETRY_TASK,
    INSPECT_CAPTURE_TASK,
    MOVE_PART_TASK,
    PRESENT_VIEW_TASK,
    PROFILE_EDGE_TASK,
    STORE_PROFILING_RUN_TASK,
)
from twinweb.celery import app as server_app

UNIX = "unix:///run/twinweb/redis.sock"


@pytest.mark.parametrize(
    ("env", "broker"),
    [
        (
            {"TWINWEB_BROKER_URL": "redis://a:6379/0", "CELERY_BROKER_URL": "redis://b/0", "REDIS_URL": "redis://c/0"},
            "redis://a:6379/0",
        ),
        ({"CELERY_BROKER_URL": "redis://b/0", "REDIS_URL": "redis://c/0"}, "redis://b/0"),
        ({"REDIS_URL": "redis://c/0"}, "redis://c/0"),
        ({"TWINWEB_BROKER_URL": " ", "REDIS_URL": UNIX}, "redis+socket:///run/twinweb/redis.sock"),
        ({"CELERY_BROKER_URL": UNIX}, "redis+socket:///run/twinweb/redis.sock"),
    ],
)
def test_it_takes_the_broker_from_the_first_variable_set(env: dict[str, str], broker: str) -> None:
    assert broker_url_from_env(env) == broker
    assert create_app(env, make_current=False).conf.broker_url == broker


def test_it_refuses_to_guess_a_broker_and_names_the_variables() -> None:
    with pytest.raises(EdgeConfigError) as refused:
        create_app({"DJANGO_SETTINGS_MODULE": "twinweb.settings"}, make_current=False)
    assert all(name in str(refused.value) for name in BROKER_VARIABLES)


def test_it_takes_the_visibility_timeout_from_the_environment() -> None:
    options = create_app(
        {"REDIS_URL": UNIX, "CELERY_VISIBILITY_TIMEOUT_S": "7"}, make_current=False
    ).conf.broker_transport_options
    assert options["visibility_timeout"] == 7 and 1 <= options["unacked_restore_interval"] <= 7
    default = create_app({"REDIS_URL": UNIX}, make_current=False).conf.broker_transport_options
    assert default["visibility_timeout"] == 60
    with pytest.raises(EdgeConfigError, match="CELERY_VISIBILITY_TIMEOUT_S"):
        create_app({"REDIS_URL": UNIX, "CELERY_VISIBILITY_TIMEOUT_S": "soon"}, make_current=False)


def test_it_delivers_exactly_as_the_server_does() -> None:
    visibility = int(settings.CELERY_VISIBILITY_TIMEOUT_S)
    edge = create_app({"REDIS_URL": UNIX, "CELERY_VISIBILITY_TIMEOUT_S": str(visibility)}, make_current=False)
    for name, value in delivery_settings(visibility).items():
        if name == "broker_transport_options":  # the same redelivery; the edge adds broker keys of its own
            assert server_app.conf[name] == value and value.items() <= edge.conf[name].items()
            continue
        assert edge.conf[name] == value == server_app.conf[name], name
    assert (edge.conf.task_serializer, edge.conf.result_serializer, edge.conf.accept_content) == (
        "json",
        "json",
        ["json"],
    )
    assert (
        edge.conf.task_acks_late and edge.conf.task_reject_on_worker_lost and edge.conf.worker_prefetch_multiplier == 1
    )


def test_it_never_sets_django_up_even_when_told_where_its_settings_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "twinweb.settings")
    assert create_app({"REDIS_URL": UNIX}, make_current=False)._fixups == []


def test_it_runs_the_edge_tasks_under_their_wire_names_with_late_acknowledgement() -> None:
    edge = create_app({"REDIS_URL": UNIX}, make_current=False)
    edge.loader.import_default_modules()  # what the worker does at start
    for name in (INSPECT_CAPTURE_TASK, PRESENT_VIEW_TASK, MOVE_PART_TASK):
        assert (edge.tasks[name].acks_late, edge.tasks[name].reject_on_worker_lost) == (True, True), name
    # A profiling run outlasts the visibility timeout and must not run twice: acknowledged when it starts.
    assert edge.tasks[PROFILE_EDGE_TASK].acks_late is False


def test_it_sends_to_server_tasks_the_server_registers_under_the_same_names() -> None:
    server_app.loader.import_default_modules()
    for name in (
        INGEST_RESULT_TASK,
        INGEST_TELEMETRY_TASK,
        INGEST_REFUSAL_TASK,
        COBOT_ACK_TASK,
        STORE_PROFILING_RUN_TASK,
    ):
        assert name in server_app.tasks, name
        assert server_app.amqp.router.route({}, name)["queue"].name == "ingest", name


def test_it_keeps_the_device_to_broker_keys_of_its_own() -> None:
    # What the device's Redis user may touch (docs/deploy/redis-users.acl): its queues, and its own unacknowledged
    # bookkeeping instead of kombu's `unacked` hash shared by every consumer; no priority sub-queues.
    from kombu.transport.redis import Channel

    edge = create_app({"REDIS_URL": UNIX, "TWINWEB_EDGE_DEVICE": "jetson-line3-01"}, make_current=False)
    options = edge.conf.broker_transport_options
    assert set(options) <= set(Channel.from_transport_options), set(options) - set(Channel.from_transport_options)
    assert (options["unacked_key"], options["unacked_index_key"], options["unacked_mutex_key"]) == (
        "edge.jetson-line3-01.unacked",
        "edge.jetson-line3-01.unacked_index",
        "edge.jetson-line3-01.unacked_mutex",
    )
    assert options["priority_steps"] == [0]
    assert edge.conf.worker_enable_remote_control is False  # no pidbox: a fanout exchange and pub/sub


def test_it_refuses_a_tls_broker_whose_certificate_it_would_not_check() -> None:
    # kombu accepts any certificate for a bare rediss:// URL: the device would talk TLS to whoever answers.
    with pytest.raises(EdgeConfigError, match="without ssl_cert_reqs"):
        create_app({"TWINWEB_BROKER_URL": "rediss://edge-a:pw@redis.plant:6380/0"}, make_current=False)
    url = "rediss://edge-a:pw@redis.plant:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/twinweb/redis-ca.pem"
    assert create_app({"TWINWEB_BROKER_URL": url}, make_current=False).conf.broker_url == url
