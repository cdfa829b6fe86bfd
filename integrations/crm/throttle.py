"""Client-side throttling, shared by every worker through Redis.

GCRA (the generic cell rate algorithm): each connection keeps a "theoretical arrival
time" in Redis; a caller reserves the next slot and sleeps until it. ``burst`` slots
may be taken at once, then one every ``1/rate`` seconds, so a leaky bucket like
Bitrix24's (2/s, burst 50) and a strict limit like amoCRM's (7/s) are one algorithm.
We run a little under the CRM's own numbers (``margin``) so that clock jitter between
us and the CRM does not produce a 429.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local ttl = math.ceil((tat + interval - now) * 1000) + 1000
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', ttl)
return tostring(wait)
"""

_local_lock = threading.Lock()
_local_tat: dict[str, float] = {}


class Throttle:
    def __init__(self, key: str, rate: float, burst: int = 1, margin: float = 0.97) -> None:
        self.key = f"prm:crm:throttle:{key}"
        # PRM_CRM_RATE_SCALE > 1 only in tests, against fakes whose limiter is off.
        self.interval = 1.0 / (rate * margin * settings.PRM_CRM_RATE_SCALE)
        self.tolerance = max(burst - 1, 0) * self.interval
        self._script = None

    def _reserve_redis(self) -> float | None:
        if not settings.REDIS_URL:
            return None
        import redis

        if self._script is None:
            client = redis.Redis.from_url(settings.REDIS_URL)
            self._script = client.register_script(_SCRIPT)
        try:
            return float(self._script(keys=[self.key], args=[self.interval, self.tolerance]))
        except redis.RedisError:
            return None

    def _reserve_local(self) -> float:
        with _local_lock:
            now = time.monotonic()
            tat = max(_local_tat.get(self.key, now), now)
            wait = max(tat - self.tolerance - now, 0.0)
            _local_tat[self.key] = tat + self.interval
            return wait

    def wait(self) -> float:
        """Take a slot; sleep until it comes. Returns the seconds slept."""
        delay = self._reserve_redis()
        if delay is None:
            delay = self._reserve_local()
        if delay > 0:
            time.sleep(delay)
        return delay
