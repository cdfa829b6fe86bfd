"""Rate limits of our own doors, on allauth's limiter.

allauth counts attempts in Django's cache (Redis when REDIS_URL is set, so every
gunicorn worker sees the same counts) and reads the rates from ACCOUNT_RATE_LIMITS,
where our actions (``workspace_signup``, ``workspace_signup_email``, ``api_key_failed``)
sit next to allauth's own, so one setting names every limit.

allauth's public ``consume`` never limits GET requests; the API is mostly GETs, so this
module calls the limiter underneath it. This is the one place that does.
"""

from __future__ import annotations

import math
import time

from allauth.core.internal import ratelimit as _limiter
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

APP = "allauth.account"  # the settings table the actions live in (ACCOUNT_RATE_LIMITS)

TOO_MANY_ATTEMPTS = _("Too many attempts. Please wait a while and try again.")


def limit_hit(request: HttpRequest, *, action: str, key: str | None = None) -> bool:
    """Count one attempt at ``action``; True when it is over a limit and must be refused.

    ``key`` is what the per-account rates count by (an e-mail address, lower-cased);
    the per-IP rates use the client address (``AccountAdapter.get_client_ip``).
    A refused attempt is not counted, so the window slides back open by itself.
    """
    usage = _limiter.consume(request, app=APP, action=action, key=key, limit_get=True)
    return usage is None


def retry_after(request: HttpRequest, *, action: str, key: str | None = None) -> int:
    """Whole seconds until ``action`` may be tried again (at least 1)."""
    now = time.time()
    wait = 0.0
    for rate in _limiter.get_rates(app=APP, action=action):
        cache_key = _limiter.get_cache_key(request, app=APP, action=action, rate=rate, key=key)
        # The history is newest first; a slot frees when the amount-th newest expires.
        recent = [ts for ts in cache.get(cache_key, []) if ts > now - rate.duration]
        if len(recent) >= rate.amount:
            wait = max(wait, recent[rate.amount - 1] + rate.duration - now)
    return max(1, math.ceil(wait))


def key_limit_hit(key_id: object) -> int:
    """Count one API request of the key ``key_id``; the seconds to wait (``Retry-After``)
    when it is over ``ACCOUNT_RATE_LIMITS["api_key"]`` (e.g. ``"600/m/key"``), else 0.

    A fixed window per rate in the shared cache (one ``incr`` per request, unlike
    allauth's list of timestamps, which would grow to the rate's size for every call).
    """
    now = time.time()
    wait = 0
    for rate in _limiter.get_rates(app=APP, action="api_key"):
        duration = max(1, int(rate.duration))
        window = int(now // duration)
        cache_key = f"prm:rl:api_key:{key_id}:{duration}:{window}"
        cache.add(cache_key, 0, timeout=duration + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=duration + 1)
            count = 1
        if count > rate.amount:
            wait = max(wait, math.ceil((window + 1) * duration - now))
    return max(1, wait) if wait else 0
