from django.apps import AppConfig


class TwinWebConfig(AppConfig):
    name = "twinweb"
    verbose_name = "TwinWeb wiring"

    def ready(self) -> None:
        from twinweb import checks  # noqa: F401  (registers the deployment checks of the Redis connection)
        # With no REDIS_URL the project's own redis-server is started by the first process that uses Redis, not
        # here: a command that needs no broker starts none (twinweb/embedded_redis.py).
