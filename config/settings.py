"""Settings for Music Gateway: one module, read from the environment (twelve-factor).

Every variable is optional on a developer machine; production must set SECRET_KEY (with DEBUG off),
ALLOWED_HOSTS, DATABASE_URL, REDIS_URL and MUSICAPI_KEY. Bad values fail at start-up.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config import embedded_redis, logs
from config.media_storage import s3_options
from egress import HostRule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


class _Env(environ.Env):
    """django-environ, with a bad value reported as one line naming its variable."""

    def get_value(self, var, *args, **kwargs):
        try:
            return super().get_value(var, *args, **kwargs)
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(f"{var}: {exc}") from None


env = _Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)


def _dev_secret_key() -> str:
    # Persisted so that signed URLs and sessions survive a restart of `make run`.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _dev_secret_key()
# It signs the media and events links: Django's own bar for a strong key (check --deploy W009).
if not DEBUG and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")
):
    raise ImproperlyConfigured(
        "SECRET_KEY is weak: use at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "if-none-match",
    "last-event-id",
    "range",
)
CORS_EXPOSE_HEADERS = ("location", "etag", "retry-after", "ratelimit", "ratelimit-policy")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "generations",
    "api",
    "workers",
]

MIDDLEWARE = [
    # First and last: request latency by route and status for /metrics (django-prometheus).
    "api.http_metrics.BeforeMiddleware",
    # One log line per request; binds its request id (X-Request-ID), user and generation ids.
    "config.logs.request_log",
    "django.middleware.security.SecurityMiddleware",
    # Turns any non-problem error on an API path into problem+json (sees every inner answer).
    "api.middleware.ProblemMiddleware",
    "config.staticfiles.StaticFilesMiddleware",  # WhiteNoise, on the async path too
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # ETag on every GET answer, and 304 for If-None-Match: cheap re-reads for polling clients.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "api.database_unavailable.DatabaseUnavailableMiddleware",
    "api.http_metrics.AfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
except (KeyError, ValueError):
    DATABASES = {"default": {}}
if DATABASES["default"].get("ENGINE") not in {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
}:
    raise ImproperlyConfigured("DATABASE_URL must be postgres://… or sqlite:///…")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker processes share the file: WAL lets readers run beside the one writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too: an in-memory shared-cache database answers "table is locked" to a
    # second thread at once instead of waiting, which is not how the real file behaves.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    # Each process (a web worker, a rundramatiq worker process, the scheduler) keeps at most
    # DB_POOL_MAX server connections, whatever its thread count: threads beyond it wait up to
    # DB_POOL_TIMEOUT seconds for one, then the request is answered 503 with Retry-After
    # (api.database_unavailable). Without a pool every ASGI request thread kept a connection of
    # its own, and one web process used up max_connections. DB_POOL_MAX=0 turns the pool off
    # (CONN_MAX_AGE applies then), for a deployment behind PgBouncer.
    DB_POOL_MAX = env.int("DB_POOL_MAX", default=10)
    if DB_POOL_MAX > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(env.int("DB_POOL_MIN", default=2), DB_POOL_MAX),
            "max_size": DB_POOL_MAX,
            "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
            # A connection is replaced after this long, so a failover or a PgBouncer restart is
            # not remembered for ever.
            "max_lifetime": 600.0,
        }
        # Django's backend, whose pool checks a connection before handing it out and, after a
        # server restart, replaces every dead idle one at once (config/postgres/base.py).
        DATABASES["default"]["ENGINE"] = "config.postgres"
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and broker ----------------------------------------------------------------
EMBEDDED_REDIS_DIR = Path(env.str("EMBEDDED_REDIS_DIR", default=str(embedded_redis.DEFAULT_DIR)))
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    # Idempotent: a ping when it already runs, so every process of the service shares one server.
    REDIS_URL = embedded_redis.ensure_running(EMBEDDED_REDIS_DIR.resolve())
BROKER_URL = env.str("BROKER_URL", default="") or REDIS_URL

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "mg",
        # One pool per process: under ASGI Django makes a cache object per request (see there).
        "OPTIONS": {
            "pool_class": "config.redis_pools.SharedConnectionPool",
            "client_name": "mg-cache",  # tells its connections apart in CLIENT LIST
        },
    }
}

# prometheus_client's multiprocess mode: every process on this host (web workers, Dramatiq worker
# processes) writes its counters to files here, and /metrics adds them up. `make run` sets it to
# var/prometheus; with several web or worker processes per host, set it (an empty directory,
# cleared before the processes start). Unset: /metrics shows this web process's HTTP figures only.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    # prometheus_client reads the environment itself (a .env entry must reach it), and Dramatiq's
    # middleware points it at `dramatiq_prom_db` in its worker processes: one directory for all.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
    os.environ["dramatiq_prom_db"] = PROMETHEUS_MULTIPROC_DIR  # noqa: SIM112 - its name

_broker_scheme = urlsplit(BROKER_URL).scheme
if _broker_scheme in {"amqp", "amqps"}:
    _broker = {"BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker", "OPTIONS": {"url": BROKER_URL}}
elif _broker_scheme in {"redis", "rediss", "unix"}:
    _broker = {"BROKER": "dramatiq.brokers.redis.RedisBroker", "OPTIONS": {"url": BROKER_URL}}
else:
    raise ImproperlyConfigured(
        f"BROKER_URL must be redis://, unix:// or amqp://, not {_broker_scheme!r}"
    )

DRAMATIQ_BROKER = {
    **_broker,
    # Listed explicitly: django-dramatiq's default names dramatiq.middleware.Prometheus, which
    # Dramatiq 2 no longer ships.
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.ShutdownNotifications",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Pipelines",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "periodiq.PeriodiqMiddleware",
        "workers.logcontext.LogContext",  # actor and generation id on each line a message logs
        # Messages, failures and durations by actor, when processes share PROMETHEUS_MULTIPROC_DIR.
        *(["workers.metrics.Prometheus"] if PROMETHEUS_MULTIPROC_DIR else []),
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# --- The vendor -----------------------------------------------------------------------------
MUSICAPI_KEY = env.str("MUSICAPI_KEY", default="")
SANDBOX = not MUSICAPI_KEY
SIMULATOR_HOST = env.str("SIMULATOR_HOST", default="127.0.0.1")
SIMULATOR_PORT = env.int("SIMULATOR_PORT", default=8765)
SIMULATOR_KEY = "sandbox"
SIMULATOR_READY_AFTER_S = env.float("SIMULATOR_READY_AFTER_S", default=60.0)
SIMULATOR_CREDITS = env.int("SIMULATOR_CREDITS", default=1_000_000)
SIMULATOR_CLIP_DURATION_S = env.float("SIMULATOR_CLIP_DURATION_S", default=30.0)
SIMULATOR_FAULTS = env.str("SIMULATOR_FAULTS", default="{}")  # JSON, see FaultProfile
VENDOR_BASE_URL = "https://api.musicapi.ai/api/v1"
# The CDN hosts the vendor's clip URLs have pointed at. The contract does not list them: confirm
# with the vendor and override with MUSICAPI_MEDIA_HOSTS.
VENDOR_MEDIA_HOSTS = ["cdn1.suno.ai", "cdn2.suno.ai", "audiopipe.suno.ai"]
_simulator_url = f"http://{SIMULATOR_HOST}:{SIMULATOR_PORT}/api/v1"
MUSICAPI_BASE_URL = env.str(
    "MUSICAPI_BASE_URL", default=_simulator_url if SANDBOX else VENDOR_BASE_URL
).rstrip("/")


def _api_origin(base_url: str) -> str:
    """The vendor API's own origin as an allow-list entry: a vendor (or a vendor fake an
    operator points MUSICAPI_BASE_URL at) may serve clip audio from the host it answers on."""
    scheme, _, rest = base_url.partition("://")
    authority = rest.split("/", 1)[0]
    return f"http://{authority}" if scheme == "http" else authority


MUSICAPI_MEDIA_HOSTS = env.list(
    "MUSICAPI_MEDIA_HOSTS",
    # A plain name allows https to public addresses only; "http://host:port" is an explicit
    # listing that also allows plain http and private addresses (the sandbox's simulator).
    default=[*VENDOR_MEDIA_HOSTS, _api_origin(MUSICAPI_BASE_URL)]
    if MUSICAPI_BASE_URL != VENDOR_BASE_URL
    else VENDOR_MEDIA_HOSTS,
)
for _entry in MUSICAPI_MEDIA_HOSTS:
    try:
        HostRule.parse(_entry)
    except ValueError as exc:
        raise ImproperlyConfigured(f"MUSICAPI_MEDIA_HOSTS: {exc}") from None
MUSICAPI_TIMEOUT_S = (env.float("MUSICAPI_CONNECT_TIMEOUT_S", default=5.0), 30.0)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# --- Generation requests: the vendor's limits, checked before anything is queued ------------
MUSIC_MODELS = env.list(
    "MUSIC_MODELS", default=["sonic-v3-5", "sonic-v4", "sonic-v4-5", "sonic-v4-5-plus", "sonic-v5"]
)
MUSIC_DEFAULT_MODEL = env.str("MUSIC_DEFAULT_MODEL", default="sonic-v5")
# Models that take vocal_gender and auto_lyrics, and the longer lyrics limit.
MUSIC_NEWER_MODELS = env.list(
    "MUSIC_NEWER_MODELS", default=["sonic-v4-5", "sonic-v4-5-plus", "sonic-v5"]
)
MUSIC_LIMITS = {
    "description": env.int("MUSIC_DESCRIPTION_MAX", default=400),
    "lyrics": env.int("MUSIC_LYRICS_MAX", default=3000),
    "lyrics_newer": env.int("MUSIC_LYRICS_NEWER_MAX", default=5000),
    "title": env.int("MUSIC_TITLE_MAX", default=80),
    "tags": env.int("MUSIC_TAGS_MAX", default=200),
    "negative_tags": env.int("MUSIC_NEGATIVE_TAGS_MAX", default=200),
    # POST /lyrics: the vendor says "less than 120" (read strictly: docs/upstream.md).
    "lyrics_description": 119,
    # POST /personas: "less than 80" / "less than 200" (strictly); styles not stated: as tags.
    "persona_name": 79,
    "persona_description": 199,
    "persona_styles": 200,
}
if MUSIC_DEFAULT_MODEL not in MUSIC_MODELS:
    raise ImproperlyConfigured(f"MUSIC_DEFAULT_MODEL {MUSIC_DEFAULT_MODEL!r} is not a MUSIC_MODEL")

# --- HTTP API -------------------------------------------------------------------------------
# How long the web tier keeps an idle client connection open, in seconds. Longer than the idle
# timeout of the proxy or load balancer in front (commonly 60 s): a backend that closes first
# races the proxy's next request on that connection, which then fails (a 502 at the proxy, a
# reset at a polling client). uvicorn's own default is 5 s and gunicorn's 2 s. config/gunicorn.py
# reads the same variable.
WEB_KEEPALIVE_S = env.int("WEB_KEEPALIVE_S", default=75)
if not 1 <= WEB_KEEPALIVE_S <= 3600:
    raise ImproperlyConfigured("WEB_KEEPALIVE_S: seconds, 1-3600.")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=64 * 1024)
# Request bodies here are flat objects; deep nesting only serves to exhaust recursion.
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=20)
API_TOKEN_PREFIX = "mg_"
# Unrevoked tokens a user may hold when creating through the API (409 beyond).
API_TOKENS_PER_USER_MAX = env.int("API_TOKENS_PER_USER_MAX", default=50)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.ratelimit.ReadRateThrottle"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Music Gateway API",
    "DESCRIPTION": (
        "Generate music through MusicAPI without blocking and without the vendor key. "
        "Create a generation (202 Accepted), then follow it until its clips are ready. "
        "Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Jobs and personas share one status enum (a persona is made by its job).
    "ENUM_NAME_OVERRIDES": {"JobStatusEnum": "api.serializers.jobs.PUBLIC_STATUSES"},
    # No online validator badge (it would call validator.swagger.io): the docs work offline.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "validatorUrl": None},
    # System fonts: Redoc's default theme wants Google Fonts (see config/docs.py).
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif"},
            }
        }
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_streaming_and_limits",
        "api.schema.close_request_bodies",
    ],
    "TAGS": [
        {"name": "generations", "description": "Ask for music and follow it until it is done."},
        {"name": "clips", "description": "The songs a generation made, and their audio."},
        {
            "name": "jobs",
            "description": "What a clip is turned into (WAV, stems, lyrics timeline), and "
            "lyrics drafts: asynchronous, each a job with its result.",
        },
        {
            "name": "personas",
            "description": "Voices made from your clips, to sing new songs "
            "(`operation: persona_music`).",
        },
        {"name": "me", "description": "Your plan and usage."},
        {"name": "tokens", "description": "Your personal API tokens."},
        {"name": "hooks", "description": "For the vendor only."},
    ],
}

# --- Static files, i18n ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Where copied media lives: "filesystem" (MEDIA_ROOT, one host) or "s3" (any S3-compatible
# object storage, shared by every web and worker host).
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="filesystem")
# With s3: "redirect" answers media requests with a short-lived presigned URL (the client's
# Range goes straight to the object store); "stream" sends the bytes through this service.
MEDIA_S3_SERVE = env.str("MEDIA_S3_SERVE", default="redirect")
MEDIA_S3_URL_MAX_AGE_S = env.int("MEDIA_S3_URL_MAX_AGE_S", default=300)
if MEDIA_STORAGE not in {"filesystem", "s3"}:
    raise ImproperlyConfigured("MEDIA_STORAGE must be filesystem or s3.")
if MEDIA_S3_SERVE not in {"redirect", "stream"}:
    raise ImproperlyConfigured("MEDIA_S3_SERVE must be redirect or stream.")


STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if MEDIA_STORAGE == "filesystem"
    else {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": s3_options(
            bucket=env.str("MEDIA_S3_BUCKET", default=""),
            endpoint_url=env.str("MEDIA_S3_ENDPOINT_URL", default=""),
            region=env.str("MEDIA_S3_REGION", default=""),
            access_key=env.str("MEDIA_S3_ACCESS_KEY_ID", default=""),
            secret_key=env.str("MEDIA_S3_SECRET_ACCESS_KEY", default=""),
            url_max_age_s=MEDIA_S3_URL_MAX_AGE_S,
        ),
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging and metrics --------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# One JSON object per line in production (for log shippers); readable lines on a laptop.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
# One format per mode, each event once, every line with its request, user and generation ids.
LOGGING = logs.config(LOG_FORMAT, LOG_LEVEL)

# Required for /metrics when DEBUG is off (404 without it).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# One computation of the (whole-table) figures serves every scrape for this long.
METRICS_CACHE_S = env.float("METRICS_CACHE_S", default=15.0)

# HTTPS: on by default with DEBUG off, each one settable for the deployment at hand.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and scrapers inside the network speak plain http to the app.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)  # a commitment: opt in
# HSTS preload (W021) is the domain owner's commitment to browsers, not the service's: opt in
# with SECURE_HSTS_PRELOAD. Silenced so that `check --deploy` (make run-prod) is clean without it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# --- Workers: submission, polling, retries, reconciliation (seconds unless named _ms) -------
# The first poll comes near the expected generation time, then every 15-25 s (the vendor's
# recommendation) with jitter; the sandbox polls faster so a demo feels live.
GENERATION_EXPECTED_S = env.float(
    "GENERATION_EXPECTED_S", default=SIMULATOR_READY_AFTER_S if SANDBOX else 90.0
)
POLL_INTERVAL_MIN_S = env.float("POLL_INTERVAL_MIN_S", default=3.0 if SANDBOX else 15.0)
POLL_INTERVAL_MAX_S = env.float("POLL_INTERVAL_MAX_S", default=5.0 if SANDBOX else 25.0)
GENERATION_DEADLINE_S = env.float("GENERATION_DEADLINE_S", default=20 * 60.0)
# How long a vendor create may go unanswered before the reconciler assumes its worker died and
# charges it as unconfirmed; keep it above the client's connect + read timeout.
SUBMIT_LEASE_S = env.float("SUBMIT_LEASE_S", default=120.0)
RETRY_MAX_RETRIES = env.int("RETRY_MAX_RETRIES", default=8)
RETRY_MIN_BACKOFF_MS = env.int("RETRY_MIN_BACKOFF_MS", default=2_000)
RETRY_MAX_BACKOFF_MS = env.int("RETRY_MAX_BACKOFF_MS", default=120_000)
# A step this late past its due time is treated as lost and sent again.
RECONCILE_GRACE_S = env.float("RECONCILE_GRACE_S", default=120.0)
RECONCILE_BATCH = env.int("RECONCILE_BATCH", default=500)
WEBHOOK_TOLERANCE_S = env.int("WEBHOOK_TOLERANCE_S", default=300)
# Outbound webhooks (generations.outbound): https to public addresses only, plus what the
# operator lists here in the egress syntax (e.g. "http://10.0.0.5:8080" for an internal receiver).
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=100)
WEBHOOK_TIMEOUT_S = (5.0, 10.0)  # connect, read: a slow receiver holds one media thread at most
WEBHOOK_RETRY_WINDOW_S = 24 * 3600
WEBHOOK_MAX_ENDPOINTS = 10
if not 0 < POLL_INTERVAL_MIN_S <= POLL_INTERVAL_MAX_S:
    raise ImproperlyConfigured("Need 0 < POLL_INTERVAL_MIN_S <= POLL_INTERVAL_MAX_S.")

# --- Credits, plans and quotas --------------------------------------------------------------
# What each operation costs a user, in credits: the one place prices come from (generations.quotas
# reads it). The defaults are the vendor's documented prices (docs/upstream.md, "Credits");
# CREDIT_COSTS overrides some of them, e.g. "wav=3,stems_full=80".
VENDOR_CREDIT_COSTS = {
    "create": 15,
    "extend": 15,
    "cover": 15,
    "persona_music": 15,
    "concat": 2,
    "wav": 2,
    "stems_basic": 15,
    "stems_full": 75,
    "lyrics_timeline": 1,  # the vendor charges the first call per clip; we ask once per clip
    # The vendor takes these from a separate lyrics pool; users pay them from their one balance.
    "lyrics": 10,
    # Not stated by MusicAPI (docs/upstream.md, assumptions): its sister site's prices.
    "upload": 2,
    "persona": 1,
}
MAX_CREDIT_COST = 10_000


def _credit_costs() -> dict[str, int]:
    costs = dict(VENDOR_CREDIT_COSTS)
    for item in filter(None, (i.strip() for i in env.str("CREDIT_COSTS", default="").split(","))):
        operation, _, value = (part.strip() for part in item.partition("="))
        if operation not in costs:
            raise ImproperlyConfigured(
                f"CREDIT_COSTS: unknown operation {operation!r} (known: {', '.join(costs)})."
            )
        if not value.isdigit() or int(value) > MAX_CREDIT_COST:
            raise ImproperlyConfigured(
                f"CREDIT_COSTS: {operation} must be a whole number 0-{MAX_CREDIT_COST}, "
                f"not {value!r}."
            )
        costs[operation] = int(value)
    return costs


CREDIT_COSTS = _credit_costs()
if "DEFAULT_PLAN_GENERATIONS" in os.environ:
    raise ImproperlyConfigured(
        "DEFAULT_PLAN_GENERATIONS is gone: plans count credits now. Set DEFAULT_PLAN_CREDITS "
        f"instead (a song costs {CREDIT_COSTS['create']}, so 20 generations = "
        f"{20 * CREDIT_COSTS['create']})."
    )
# The plan of users without one; created on first use with these limits, then edited in the admin.
DEFAULT_PLAN = {
    "name": env.str("DEFAULT_PLAN_NAME", default="free"),
    "period": env.str("DEFAULT_PLAN_PERIOD", default="day"),
    "credits_per_period": env.int("DEFAULT_PLAN_CREDITS", default=20 * CREDIT_COSTS["create"]),
    "max_in_flight": env.int("DEFAULT_PLAN_MAX_IN_FLIGHT", default=3),
    "creates_per_minute": env.int("DEFAULT_PLAN_CREATES_PER_MINUTE", default=10),
}
# The vendor's balance (credits + extra credits) below which /readyz says "degraded" and the
# worker's minutely reading logs an operator error: 20 songs by default.
VENDOR_CREDITS_LOW_THRESHOLD = env.int(
    "VENDOR_CREDITS_LOW_THRESHOLD", default=20 * CREDIT_COSTS["create"]
)
if DEFAULT_PLAN["credits_per_period"] < 0:
    raise ImproperlyConfigured("DEFAULT_PLAN_CREDITS must be 0 or more.")
IDEMPOTENCY_KEY_TTL_S = env.int("IDEMPOTENCY_KEY_TTL_S", default=24 * 3600)
READ_RATE = env.str("READ_RATE", default="600/min")

# --- Stored audio -----------------------------------------------------------------------------
MEDIA_MAX_AUDIO_BYTES = env.int("MEDIA_MAX_AUDIO_BYTES", default=50 * 1024 * 1024)
# A job's file: a lossless WAV of a long song (10 min of 48 kHz 24-bit stereo is ~173 MB), a stem.
MEDIA_MAX_FILE_BYTES = env.int("MEDIA_MAX_FILE_BYTES", default=256 * 1024 * 1024)
MEDIA_MAX_IMAGE_BYTES = env.int("MEDIA_MAX_IMAGE_BYTES", default=5 * 1024 * 1024)
MEDIA_FETCH_TIMEOUT_S = (5.0, 30.0)
# Copies retry with backoff (RETRY_*_BACKOFF_MS) this often, then end as `media: failed`.
MEDIA_RETRY_MAX_RETRIES = env.int("MEDIA_RETRY_MAX_RETRIES", default=8)
MEDIA_MAX_REDIRECTS = 3
# Lifetime of the signed audio/image URLs handed to clients (seconds).
MEDIA_URL_MAX_AGE_S = env.int("MEDIA_URL_MAX_AGE_S", default=3600)
# Production: let the front proxy send the bytes. "nginx" answers with X-Accel-Redirect to
# MEDIA_ACCEL_PREFIX + the file's name; "sendfile" with X-Sendfile and the file's path.
MEDIA_OFFLOAD = env.str("MEDIA_OFFLOAD", default="")
MEDIA_ACCEL_PREFIX = env.str("MEDIA_ACCEL_PREFIX", default="/protected-media/")

# --- Uploads (POST /api/v1/uploads): checked before anything is stored, reserved or sent -------
# The vendor's pages disagree on the length (6-60 s on the upload page, "max 8 min" on another)
# and state no size: the stricter reading, each an assumption in docs/upstream.md (U1, U2).
UPLOAD_MIN_DURATION_S = env.float("UPLOAD_MIN_DURATION_S", default=6.0)
UPLOAD_MAX_DURATION_S = env.float("UPLOAD_MAX_DURATION_S", default=60.0)
# 60 s of 48 kHz 24-bit stereo WAV is 17.3 MB; any MP3 of 60 s is far less.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# The signed link to our copy that the vendor's upload call fetches (seconds).
UPLOAD_SOURCE_URL_MAX_AGE_S = env.int("UPLOAD_SOURCE_URL_MAX_AGE_S", default=600)
# The vendor's upload answers when the clip exists: "approximately 20 seconds", an older page
# "within a few minutes". An unanswered upload is charged, so it is given longer than a create.
MUSICAPI_UPLOAD_READ_TIMEOUT_S = env.float("MUSICAPI_UPLOAD_READ_TIMEOUT_S", default=120.0)
if not 0 < UPLOAD_MIN_DURATION_S < UPLOAD_MAX_DURATION_S:
    raise ImproperlyConfigured("UPLOAD_MIN_DURATION_S must be above 0 and below the maximum.")

# --- Live status (Server-Sent Events) -------------------------------------------------------
SSE_HEARTBEAT_S = env.float("SSE_HEARTBEAT_S", default=15.0)
SSE_RETRY_MS = 3000
# A stream is closed after this long (the client reconnects with Last-Event-ID).
SSE_MAX_DURATION_S = env.float("SSE_MAX_DURATION_S", default=30 * 60.0)
SSE_MAX_STREAMS_PER_USER = env.int("SSE_MAX_STREAMS_PER_USER", default=10)
# Per web process: the event hub's Redis connections (one blocks on the feed, the other takes
# stream leases) and the threads that run streams' database work. Neither grows with the
# number of open streams; with the cache's and the broker's, a web process holds 4 connections.
SSE_REDIS_CONNECTIONS = env.int("SSE_REDIS_CONNECTIONS", default=2)
if SSE_REDIS_CONNECTIONS < 2:
    raise ImproperlyConfigured("SSE_REDIS_CONNECTIONS must be at least 2 (the reader holds one)")
SSE_DB_THREADS = env.int("SSE_DB_THREADS", default=4)
# A stream's backlog of changed generations; a stream further behind is ended (it resumes).
SSE_SUBSCRIPTION_MAX_PENDING = 100
