"""Opportune settings: one module, every deployment-specific value read from the environment.

Unset ``DATABASE_URL`` means an embedded SQLite file (the newcomer's default); set it to a
``postgres://`` URL for production and CI. Unset ``REDIS_URL`` means Celery runs tasks inline
in the calling process; set it to use a real broker and worker.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or env.bool("OPPORTUNE_DEV", default=False):
        SECRET_KEY = "insecure-development-key-never-use-in-production"
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment (or DEBUG=1 / "
            "OPPORTUNE_DEV=1 for local development)."
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "simple_history",
    "django_celery_beat",
    "csp",
    "accounts",
    "pipeline",
    "forecasting",
    "notifications",
    "workspace",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "imports.middleware.UploadLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "notifications.context_processors.bell",
            ],
        },
    },
    {
        # The board's card partial only (pipeline/jinja2/, pipeline/templating.py): a hot loop.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "pipeline.templating.environment"},
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: page queries are short, and PostgreSQL's JIT compiles any query whose estimated
    # cost is high (e.g. visibility subqueries over 100k deals) for 100-250 ms, several
    # times the query's own run time.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

# --- Databases: replica ----------------------------------------------------------------------
# DATABASE_REPLICA_URL (a PostgreSQL streaming replica of DATABASE_URL) adds the ``replica``
# alias; config.routers sends the reads of the report pages and the forecast dashboard there
# (views marked ``@reads_from_replica``), everything else (writes, reads inside a transaction,
# every other page, migrations) stays on ``default``; for OPPORTUNE_REPLICA_PIN_SECONDS after a
# browser's own write (any POST) its replica pages read ``default`` too, so users see their own
# changes at once. Unset: one database for everything.
# In tests the alias is a mirror of ``default`` (no test database of its own), so ordinary
# tests see the same data whichever alias a page reads.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
        # An unreachable replica must fail fast: its pages then fall back to the primary.
        DATABASES["replica"]["OPTIONS"].setdefault(
            "connect_timeout", env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=3)
        )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    # After a user's own write, their replica pages read the primary for this many seconds.
    MIDDLEWARE += ["config.routers.PinPrimaryAfterWriteMiddleware"]
DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
OPPORTUNE_REPLICA_PIN_SECONDS = env.int("OPPORTUNE_REPLICA_PIN_SECONDS", default=15)
# --- end Databases: replica ------------------------------------------------------------------

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_BACKEND",
            # Hashed, compressed files in production; plain files in development and tests
            # so pages render without a collectstatic manifest.
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env.bool("OPPORTUNE_DEV", default=False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
WHITENOISE_USE_FINDERS = env.bool(
    "WHITENOISE_USE_FINDERS", default=DEBUG or env.bool("OPPORTUNE_DEV", default=False)
)

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy -----------------------------------------------------------------
# Every page loads only its own scripts, styles, images and fonts: no inline <script> or
# <style>, no style="" or on*="" attributes, no eval (htmx's allowEval is off in base.html).
# Data for scripts travels in json_script blocks (type="application/json", never executed)
# or data-* attributes. Django admin gets one narrow addition, in config/csp.py.
# CSP_REPORT_ONLY=1 sends the same policy as Content-Security-Policy-Report-Only (to try a
# change on a live site first); CSP_REPORT_URI names an endpoint that collects violations.
_CSP_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "report-uri": env("CSP_REPORT_URI", default=None),
    }
}
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY = None
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP_POLICY
else:
    CONTENT_SECURITY_POLICY = _CSP_POLICY
# --- end Content-Security-Policy -------------------------------------------------------------

# --- Cache -----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    # A Redis that hangs (not refused: unreachable, overloaded) costs a request at most these
    # seconds instead of a worker; the callers treat a cache error as a miss.
    _CACHE_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=1.0)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": _CACHE_TIMEOUT,
                "socket_timeout": _CACHE_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Redis outages: publishing a task fails fast ------------------------------------------------
# With Redis down, Celery's defaults retry a publish for about 20 s (the result store's
# reconnect policy) and then raise: a request that enqueues would hang a web worker that long.
# Connect and reconnect briefly instead; ``config.celery.publishing`` turns the failure into a
# message. The worker's own reconnect loop (CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP) stays.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": CELERY_TASK_PUBLISH_RETRY_POLICY}
# --- end of Redis outages ------------------------------------------------------------------------

# --- Opportune -------------------------------------------------------------------------------
OPPORTUNE_CURRENCY = env("OPPORTUNE_CURRENCY", default="USD")
OPPORTUNE_BOARD_COLUMN_LIMIT = env.int("OPPORTUNE_BOARD_COLUMN_LIMIT", default=50)
# The nightly snapshot splits into one Celery task per pipeline (a chord) once there are at
# least this many pipelines, or this many open deals (0 turns a test off); see
# forecasting.services.snapshot_chunk_pipelines.
OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES = env.int("OPPORTUNE_SNAPSHOT_CHUNK_PIPELINES", default=8)
OPPORTUNE_SNAPSHOT_CHUNK_DEALS = env.int("OPPORTUNE_SNAPSHOT_CHUNK_DEALS", default=100_000)
# Seconds a rendered board stays cached (pipeline/board_cache.py); 0 turns the cache off, the
# default without Redis (a per-process cache would miss other processes' invalidations).
OPPORTUNE_BOARD_CACHE_SECONDS = env.int(
    "OPPORTUNE_BOARD_CACHE_SECONDS", default=120 if REDIS_URL else 0
)
# Seconds computed figures (reports, the forecast dashboard, a deal's timeline) stay cached
# (pipeline/read_cache.py): every write invalidates them at once; figures measured up to the
# moment (ages, days idle) may lag this long. 0 turns the cache off, the default without Redis.
OPPORTUNE_READ_CACHE_SECONDS = env.int(
    "OPPORTUNE_READ_CACHE_SECONDS", default=120 if REDIS_URL else 0
)

# --- Notifications and email -----------------------------------------------------------------
# EMAIL_URL as django-environ reads it: smtp://user:pass@host:25, smtp+tls://… (STARTTLS),
# smtp+ssl://…, consolemail:// (prints every message: the default under `make run`, so the
# digest shows in its console), filemail:////path/to/dir. Production defaults to an SMTP
# server on localhost; set EMAIL_URL to the real one.
_DEV_MODE = DEBUG or env.bool("OPPORTUNE_DEV", default=False)
vars().update(
    env.email_url("EMAIL_URL", default="consolemail://" if _DEV_MODE else "smtp://localhost:25")
)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds; a dead mail server fails fast
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Opportune <opportune@localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Scheme and host that links in emails and the calendar feed start with (no trailing slash):
# the development server locally; in production https:// and the first of ALLOWED_HOSTS
# unless set.
OPPORTUNE_BASE_URL = env(
    "OPPORTUNE_BASE_URL",
    default="http://127.0.0.1:8000" if _DEV_MODE else f"https://{ALLOWED_HOSTS[0].lstrip('.')}",
).rstrip("/")
# The digest's default hour (0-23, in the user's time zone) for users who never chose one.
OPPORTUNE_DIGEST_HOUR = env.int("OPPORTUNE_DIGEST_HOUR", default=8)
# How often one day's digest is tried again after the mail server refused it or timed out.
OPPORTUNE_DIGEST_MAX_ATTEMPTS = env.int("OPPORTUNE_DIGEST_MAX_ATTEMPTS", default=5)
# --- end of notifications and email ----------------------------------------------------------

# --- Operations: logs with request ids, database reconnects ----------------------------------
# Every log line (web and worker) carries the id of the request it belongs to (see
# config/request_id.py). LOG_FORMAT=json (production default) writes one JSON object a line
# for log collectors; LOG_FORMAT=text (default under DEBUG / OPPORTUNE_DEV, i.e. `make run`)
# a line for people.
MIDDLEWARE = ["config.request_id.RequestIdMiddleware", *MIDDLEWARE]
LOG_FORMAT = env(
    "LOG_FORMAT",
    default="text" if DEBUG or env.bool("OPPORTUNE_DEV", default=False) else "json",
)
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601 in UTC
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print its lines a second time, unformatted.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}
# The worker logs through the same configuration (config/celery.py keeps Celery from
# installing its own handlers).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A connection kept across requests (CONN_MAX_AGE) is checked before reuse, so a connection
# the server closed (restart, failover, pg_terminate_backend) costs a reconnect, not an error.
for _database in DATABASES.values():  # the primary and, when set, the replica
    _database["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# --- end of operations -----------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "accounts.backends.RoleBackend",
]

# Field history: index (history_date, id) so "changes of a deal over time" scans stay cheap.
SIMPLE_HISTORY_DATE_INDEX = "composite"

# --- Authentication and security -------------------------------------------------------------
# Production (DEBUG off and OPPORTUNE_DEV unset) is secure by default: HTTPS only, HSTS, secure
# cookies. Each setting has an environment variable of the same name to switch it off, e.g. for
# a plain-HTTP smoke test on the loopback interface.
OPPORTUNE_DEV = env.bool("OPPORTUNE_DEV", default=False)
_PRODUCTION = not (DEBUG or OPPORTUNE_DEV)

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_PRODUCTION)
# Load balancers probe the health check over plain HTTP; a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if _PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_PRODUCTION)
# "HEADER,value" set by the TLS-terminating proxy in front of gunicorn; empty: no proxy header.
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO,https")
if _proxy_ssl_header:
    _header, _sep, _value = (part.strip() for part in _proxy_ssl_header.partition(","))
    if not (_header and _sep and _value):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be 'HEADER,value' (e.g. HTTP_X_FORWARDED_PROTO,https) "
            "or empty."
        )
    SECURE_PROXY_SSL_HEADER = (_header, _value)
else:
    SECURE_PROXY_SSL_HEADER = None
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_PRODUCTION)
# Empty switches the header off.
SECURE_REFERRER_POLICY = env("SECURE_REFERRER_POLICY", default="same-origin") or None
SECURE_CROSS_ORIGIN_OPENER_POLICY = (
    env("SECURE_CROSS_ORIGIN_OPENER_POLICY", default="same-origin") or None
)

INSTALLED_APPS += ["axes", "django_otp", "django_otp.plugins.otp_totp"]
# OTP after authentication (it marks request.user verified or not); the two-factor gate after
# that; axes last, so it can turn a locked-out sign-in into the lockout page.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1,
    "accounts.middleware.TwoFactorMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# Axes first: it refuses a locked-out sign-in before any backend checks the password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]

# Sign-in throttling (django-axes, failures kept in the database). A username + client address
# pair is locked for AXES_COOLOFF_MINUTES after AXES_FAILURE_LIMIT failures; every further
# failure while locked restarts the cool-off. Admins unlock under Admin > Access attempts.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
_cooloff_minutes = env.int("AXES_COOLOFF_MINUTES", default=15)
if AXES_FAILURE_LIMIT < 1 or _cooloff_minutes < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be 1 or more.")
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes)
# Comma-separated groups; parameters inside a group are combined with "+".
AXES_LOCKOUT_PARAMETERS = [
    [part.strip() for part in group.split("+")]
    for group in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on every manage.py command
# Failures and lockouts are logged (WARNING); successful sign-ins are in Admin > Access logs.
LOGGING.setdefault("loggers", {})["axes"] = {"level": "WARNING"}
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Behind N reverse proxies that each append the address they received from to X-Forwarded-For
# (nginx's $proxy_add_x_forwarded_for), the client is the Nth address from the right; 0 (no
# proxy) uses the connection's address only, so a client cannot pick its own address.
OPPORTUNE_PROXY_COUNT = env.int("OPPORTUNE_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"

# Two-factor sign-in (django-otp, TOTP authenticator apps): optional for admins and managers,
# required for admins when OPPORTUNE_REQUIRE_2FA is set.
OPPORTUNE_REQUIRE_2FA = env.bool("OPPORTUNE_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = "Opportune"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # admins can remove a device, never read its secret

# Mail for password links: EMAIL_URL and OPPORTUNE_BASE_URL, under "Notifications and email".
# --- end of authentication and security ------------------------------------------------------

# --- REST API (api app) ----------------------------------------------------------------------
# /api/v1/ with Django REST framework; schema by drf-spectacular at /api/schema/, docs at
# /api/docs/ (Swagger UI from drf-spectacular-sidecar's static files). Throttle rates are per
# token (requests with a personal API token) and per user (browser sessions), counted in the
# default cache (Redis when REDIS_URL is set).
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "api"]
OPPORTUNE_API_TOKEN_RATE = env("OPPORTUNE_API_TOKEN_RATE", default="1200/min")
OPPORTUNE_API_USER_RATE = env("OPPORTUNE_API_USER_RATE", default="600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.TokenRateThrottle",
        "api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": OPPORTUNE_API_TOKEN_RATE,
        "user": OPPORTUNE_API_USER_RATE,
    },
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Cursor",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Opportune API",
    "DESCRIPTION": (
        "The same records and rules as the pages. Authenticate with a personal API token "
        "(`Authorization: Bearer <token>`, created under Settings > API tokens) or a browser "
        "session. Every record carries an `ETag` from its version; writes need `If-Match` (or "
        "`version` in the body): a stale `If-Match` is 412, a stale body version 409, a "
        "missing one 428. Lists use cursor pagination (`next`/`previous` links)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "StageKindEnum": "pipeline.models.Stage.Kind",
        "ActivityKindEnum": "pipeline.models.Activity.Kind",
        "ForecastCategoryEnum": "pipeline.models.ForecastCategory",
        "OpenForecastCategoryEnum": "api.serializers.OPEN_FORECAST_CATEGORIES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.error_responses",
    ],
}
# The largest request body the API reads (Django refuses bigger ones before parsing).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
# Webhooks: receivers on private, loopback or link-local addresses are refused unless this is
# on (a test receiver on 127.0.0.1, an intranet integration).
OPPORTUNE_WEBHOOK_ALLOW_PRIVATE = env.bool("OPPORTUNE_WEBHOOK_ALLOW_PRIVATE", default=False)
OPPORTUNE_WEBHOOK_TIMEOUT = env.float("OPPORTUNE_WEBHOOK_TIMEOUT", default=5.0)
OPPORTUNE_WEBHOOK_MAX_ATTEMPTS = env.int("OPPORTUNE_WEBHOOK_MAX_ATTEMPTS", default=12)
OPPORTUNE_WEBHOOK_DISABLE_AFTER = env.int("OPPORTUNE_WEBHOOK_DISABLE_AFTER", default=30)
