from django.apps import AppConfig
from django.conf import settings


class TwinWebConfig(AppConfig):
    name = "twinweb"
    verbose_name = "TwinWeb wiring"

    def ready(self) -> None:
        from twinweb import checks  # noqa: F401  (registers the deployment checks of the Redis connection)

        # Embedded default: with no REDIS_URL every TwinWeb process makes sure the project's own redis-server
        # answers, so Celery and the channel layer run the production code path on any machine.
        if settings.EMBEDDED_REDIS:
            from twinweb import embedded_redis

            embedded_redis.ensure_running(settings.VAR_DIR / "redis")
