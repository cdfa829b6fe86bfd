"""Settings for the test suite: PostgreSQL and Redis over real connections.

``make test`` passes DATABASE_URL and REDIS_URL (the local services by default). Each
pytest-xdist worker gets its own Redis database so queues and caches never mix.
"""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "k" * 48)
os.environ.setdefault("PRM_HTTP_ALLOW_PRIVATE", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# Playwright's sync API keeps an event loop in the test thread; the ORM calls of tests
# and of the live server are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
# PRM_TEST_REDIS_DB lets two test runs on one machine keep out of each other's way
# (the suite flushes its Redis database between tests).
_redis_db = int(os.environ.get("PRM_TEST_REDIS_DB", "15")) - int(_worker.removeprefix("gw") or 0)
_base, _, _ = os.environ["REDIS_URL"].rpartition("/")
os.environ["REDIS_URL"] = f"{_base}/{_redis_db}"

from prm.settings import *  # noqa: E402,F403

PRM_SCHEME = "http"
PRM_PUBLIC_PORT = ""
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
SECURE_SSL_REDIRECT = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Generous per-IP limits (every test client is 127.0.0.1); the tests of the limits
# themselves set small ones with override_settings.
ACCOUNT_RATE_LIMITS = {  # noqa: F405
    **ACCOUNT_RATE_LIMITS,  # noqa: F405
    "signup": "1000/m/ip",
    "login": "1000/m/ip",
    "workspace_signup": "1000/m/ip",
    "api_key_failed": "1000/m/ip",
    "recruit": "1000/m/ip",
}
# CRM retries: the 1, 2, 4, 8 s schedule shrunk a hundredfold.
PRM_CRM_BACKOFF_BASE = 0.01
PRM_CRM_MAX_RATE_WAIT = 5.0
PRM_CRM_BACKOFF_CAP = 0.05
# The fakes' rate limiters are off unless a test turns them on (and sets this back to 1).
PRM_CRM_RATE_SCALE = 100.0
# Uploaded files (branding) go to a throwaway folder, never the checkout's media/.
import tempfile  # noqa: E402

MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="prm-test-media-"))  # noqa: F405
# Django's test client builds the middleware for every client: WhiteNoise would scan
# STATIC_ROOT each time (a checkout where collectstatic ran: 1,300 files, ~0.15 s per
# client). In autorefresh mode it looks a file up when one is asked for.
WHITENOISE_AUTOREFRESH = True
# The tests' own commits need not wait for the WAL to reach the disk (a crash loses a
# test database, nothing else); the server's other sessions keep their setting.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"  # noqa: F405
