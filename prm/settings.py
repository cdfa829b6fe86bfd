"""Settings for the PRM platform.

Everything that differs between a laptop and production comes from the environment
(README lists the variables). With no DATABASE_URL the platform uses a SQLite file;
with no REDIS_URL jobs run inline and the cache lives in process memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Development is the default so that `make run` needs no configuration; production
# sets DEBUG=0 and must then provide SECRET_KEY (and the variables in README).
DEBUG = env_bool("DEBUG", "1")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0")
    SECRET_KEY = "dev-only-insecure-key-" + "x" * 40  # noqa: S105 - never used with DEBUG=0

# Tenants live on <slug>.<PRM_BASE_DOMAIN>; the platform itself on PRM_PLATFORM_HOST.
PRM_BASE_DOMAIN = os.environ.get("PRM_BASE_DOMAIN", "localhost").lower()
PRM_PLATFORM_HOST = os.environ.get("PRM_PLATFORM_HOST", PRM_BASE_DOMAIN).lower()
PRM_SCHEME = os.environ.get("PRM_SCHEME", "http" if DEBUG else "https")
# The port that links in e-mails carry (":8000" in development, "" behind a proxy).
PRM_PUBLIC_PORT = os.environ.get("PRM_PUBLIC_PORT", "8000" if DEBUG else "")
# Slugs that would clash with the platform's own names.
PRM_RESERVED_SLUGS = {"www", "api", "admin", "ops", "static", "mail", "app", "shop", "t"}

# Custom domains are arbitrary hosts, so host validation happens in TenantMiddleware
# (unknown hosts get a 404 page); Django's own check would answer 400 instead.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "csp",
    "prm",
    "partners",
    "programs",
    "rewards",
    "antifraud",
    "integrations",
    "prm.notifications",
    "partners.materials",
    "prm.dataio",
    "prm.webhooks",
    "partners.news",
    "partners.training",
    "import_export",
]

MIDDLEWARE = [
    "prm.head.HeadMiddleware",
    # A lost database answers 503 + Retry-After; outside everything that may query it.
    "prm.db_outage.DatabaseOutageMiddleware",
    "programs.middleware.ClickMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside text cleaned (NUL, lone surrogates, length) before anything reads it.
    "prm.inputs.CleanInputMiddleware",
    "prm.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "prm.middleware.TenantLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "prm.middleware.StaffTwoFactorMiddleware",
]

# The tenant middleware swaps in prm.urls_tenant for tenant hosts.
ROOT_URLCONF = "prm.urls_platform"
WSGI_APPLICATION = "prm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "prm.context_processors.tenancy",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # No JIT: PostgreSQL compiles any query it estimates as costly (a report's ranking
    # of 10,000 partners) and spent 100 ms compiling for a 200 ms query; our queries are
    # all short, and none gains from compiling.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Fail-soft: an unreachable Redis is a cache miss, not a 500 (prm.cache).
            "BACKEND": "prm.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "prm",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Queues named in the design; every job goes through prm.jobs, which runs it inline
# when there is no Redis (PRM_JOBS_INLINE).
PRM_QUEUES = ("default", "tracking", "crm", "antifraud", "webhooks")
PRM_JOBS_INLINE = not REDIS_URL
RQ_QUEUES = {
    name: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600}
    for name in PRM_QUEUES
}
RQ_SHOW_ADMIN_LINK = True
# prm.jobs already dispatches after commit; django-rq must not defer a second time.
RQ = {"COMMIT_MODE": "auto"}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["prm.api.ApiKeyAuthentication"],
    # Every API view names its scope group (api_scope); keys need read or write in it.
    "DEFAULT_PERMISSION_CLASSES": ["prm.api.ScopePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Depth-limited and cleaned (NUL, lone surrogates): see prm.inputs.
    "DEFAULT_PARSER_CLASSES": ["prm.api_parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "prm.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PRM API",
    "DESCRIPTION": (
        "Server-to-server API: partners, promo codes, leads, conversions and refunds, "
        "rewards, payouts and balances. Authenticate with `Authorization: Bearer sk_…` "
        "(a secret key from the console, with read/write scopes per resource group). "
        'Errors are `{"error": {"code", "message", "fields"}}`; lists are cursor-paginated '
        "(`next`/`previous` links)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "programs.models.Lead.Status",
        "ConversionStatusEnum": "programs.models.Conversion.Status",
        "ConversionKindEnum": "programs.models.Conversion.Kind",
        "ProgramStatusEnum": "programs.models.Program.Status",
        "ProgramKindEnum": "programs.models.Program.Kind",
        "PartnerStatusEnum": "partners.models.PartnerProfile.Status",
        "RewardStatusEnum": "rewards.models.Reward.Status",
        "RewardKindEnum": "rewards.models.Reward.Kind",
        "PayoutStatusEnum": "rewards.models.PayoutRequest.Status",
    },
}

AUTH_USER_MODEL = "prm.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

# django-allauth: e-mail is the login, verification is mandatory, rate limits use the
# cache (Redis when REDIS_URL is set, so they hold across gunicorn workers).
ACCOUNT_ADAPTER = "prm.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[PRM] "
# Reset keys work only on the host the e-mailed link names (prm/reset_tokens.py).
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = "prm.reset_tokens.HostBoundTokenGenerator"
# Rates are "<amount>/<period>/<ip|key>"; "key" is the account's e-mail address. allauth
# applies the first four; the last three are ours (prm.ratelimits), kept in the same
# table so one setting names every limit.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "10/m/ip",
    "reset_password": "10/m/ip,5/m/key",
    # The platform's create-a-workspace form: every POST per IP, sent links per address.
    "workspace_signup": "20/h/ip",
    "workspace_signup_email": "3/h/key",
    # API requests with an unknown or revoked key, per IP (valid keys are never slowed).
    "api_key_failed": "20/m/ip",
    # Every API request of a valid key, per key (then 429 with Retry-After).
    "api_key": os.environ.get("PRM_API_KEY_RATE", "600/m/key"),
    # Sign-ups through the recruitment widget on client sites, per visitor address.
    "recruit": os.environ.get("PRM_RECRUIT_RATE", "20/h/ip"),
}
# A workspace confirmation link (e-mailed by the platform's landing form) works this long.
PRM_WORKSPACE_LINK_HOURS = int(os.environ.get("PRM_WORKSPACE_LINK_HOURS", "24"))
# A team invitation works this many days; staff can re-send it with a fresh link.
PRM_INVITATION_DAYS = int(os.environ.get("PRM_INVITATION_DAYS", "7"))
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "PRM"

# E-mail: the console in development, SMTP in production.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", "1")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PRM <noreply@prm.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Content Security Policy: no inline scripts or styles anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", "1")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Outbound HTTP (prm.http): private addresses are refused unless allowed (tests run
# fake servers on 127.0.0.1).
PRM_HTTP_ALLOW_PRIVATE = env_bool("PRM_HTTP_ALLOW_PRIVATE", "1" if DEBUG else "0")
# Exposes /bench/204 for bench/ (never in production).
PRM_BENCH = env_bool("PRM_BENCH", "0")
# The sample client site at shop.<base domain> (demo mode only).
PRM_DEMO_SHOP = env_bool("PRM_DEMO_SHOP", "1" if DEBUG else "0")
# How many proxies sit in front of gunicorn; 0 means REMOTE_ADDR is the client.
PRM_TRUSTED_PROXIES = int(os.environ.get("PRM_TRUSTED_PROXIES", "0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# CRM connectors (integrations/crm): backoff base in seconds (1, 2, 4, 8 ... times this),
# the longest wait for one rate-limit answer, outbox attempts before the dead-letter list.
PRM_CRM_BACKOFF_BASE = float(os.environ.get("PRM_CRM_BACKOFF_BASE", "1"))
PRM_CRM_MAX_RATE_WAIT = float(os.environ.get("PRM_CRM_MAX_RATE_WAIT", "60"))
PRM_CRM_MAX_ATTEMPTS = int(os.environ.get("PRM_CRM_MAX_ATTEMPTS", "6"))
PRM_CRM_BACKOFF_CAP = float(os.environ.get("PRM_CRM_BACKOFF_CAP", "300"))
PRM_CRM_POLL_SECONDS = int(os.environ.get("PRM_CRM_POLL_SECONDS", "60"))
PRM_CRM_RECONCILE_SECONDS = int(os.environ.get("PRM_CRM_RECONCILE_SECONDS", "900"))
PRM_CRM_HTTP_TIMEOUT = float(os.environ.get("PRM_CRM_HTTP_TIMEOUT", "15"))
PRM_CRM_RATE_SCALE = float(os.environ.get("PRM_CRM_RATE_SCALE", "1"))
# Fairness between connections (one crm queue for all of them): a push, poll or
# reconciliation job works for about PRM_CRM_SLICE_SECONDS (a poll reads at most
# PRM_CRM_POLL_SLICE records), saves where it is and queues itself again at the back of
# the queue, so another connection's events wait one slice, not a whole backlog.
PRM_CRM_SLICE_SECONDS = float(os.environ.get("PRM_CRM_SLICE_SECONDS", "20"))
PRM_CRM_POLL_SLICE = int(os.environ.get("PRM_CRM_POLL_SLICE", "2000"))
# How long the mark of our own write is kept for recognising its echo (the CRM's event
# about it, which then is not read back).
PRM_CRM_ECHO_SECONDS = int(os.environ.get("PRM_CRM_ECHO_SECONDS", "600"))
PRM_CRM_PUSH_CHUNK = int(os.environ.get("PRM_CRM_PUSH_CHUNK", "2000"))  # rows per connector call

# Branding uploads (prm.images): size limits in bytes. Files go to the "default" storage
# (README "Branding and uploaded files"): the local MEDIA_ROOT, or an S3-compatible bucket
# when PRM_S3_BUCKET is set (needs django-storages[s3]).
PRM_BRANDING_LOGO_MAX_BYTES = int(os.environ.get("PRM_BRANDING_LOGO_MAX_BYTES", str(512 * 1024)))
PRM_BRANDING_FAVICON_MAX_BYTES = int(
    os.environ.get("PRM_BRANDING_FAVICON_MAX_BYTES", str(128 * 1024))
)
# A news post's image (README "News"), re-encoded and kept in the database with its post.
PRM_NEWS_IMAGE_MAX_BYTES = int(os.environ.get("PRM_NEWS_IMAGE_MAX_BYTES", str(1024 * 1024)))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
# Never served as a directory: branding files go out through prm.views.branding only.
MEDIA_URL = "/media-not-served/"
if os.environ.get("PRM_S3_BUCKET"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["PRM_S3_BUCKET"],
            "endpoint_url": os.environ.get("PRM_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("PRM_S3_REGION") or None,
            "access_key": os.environ.get("PRM_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("PRM_S3_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
# Export and import (README "Export and import"). An export of more rows than this is
# written by a job into a stored file (kept this many days) instead of being streamed.
PRM_EXPORT_STREAM_ROWS = int(os.environ.get("PRM_EXPORT_STREAM_ROWS", "10000"))
PRM_EXPORT_KEEP_DAYS = int(os.environ.get("PRM_EXPORT_KEEP_DAYS", "7"))
# Scheduled exports attach files up to this size; larger ones are sent as a link.
PRM_EXPORT_ATTACH_BYTES = int(os.environ.get("PRM_EXPORT_ATTACH_BYTES", str(10 * 1024 * 1024)))
PRM_IMPORT_MAX_BYTES = int(os.environ.get("PRM_IMPORT_MAX_BYTES", str(10 * 1024 * 1024)))
PRM_IMPORT_MAX_ROWS = int(os.environ.get("PRM_IMPORT_MAX_ROWS", "100000"))
# Files of up to this many rows are checked and imported in the request; larger ones
# by a job, with a progress bar.
PRM_IMPORT_INLINE_ROWS = int(os.environ.get("PRM_IMPORT_INLINE_ROWS", "1000"))
