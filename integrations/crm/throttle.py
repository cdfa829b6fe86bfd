"""Client-side throttling, shared by every worker through Redis.

Two shapes of limit:

- GCRA (the generic cell rate algorithm) for a leaky bucket like Bitrix24's (2/s, burst
  50): each connection keeps a "theoretical arrival time" in Redis; a caller reserves
  the next slot and sleeps until it. ``burst`` slots may be taken at once, then one every
  ``1/rate`` seconds. The bucket is shared with the portal's other integrations, so we
  cannot assume it is empty: when the CRM refuses for rate (``penalize``) we give up our
  whole burst allowance and wait, and from then on send at the sustained rate until we
  have been slower than it long enough to earn the burst back.
- A sliding window (``window=`` seconds, at most ``burst`` requests in any window) for a
  strict count like amoCRM's 7 requests per second: a sorted set of reserved send times;
  a new slot is never closer than ``window`` to the slot ``burst`` places before it. This
  keeps the full 7 per window (GCRA at 7/s with burst 1 would waste the window's slack)
  without ever letting an 8th land in one window.

Every request and every rate refusal is also counted per minute (``count``), so the
status page and ``crm_health`` can show what each CRM allowed in the last hour.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

_GCRA = """
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

# Push the arrival time past the whole burst (and ``pause`` more): the CRM said it is full.
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tolerance = tonumber(ARGV[1])
local pause = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = now + tolerance + pause
if tat < floor then tat = floor end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
return tostring(tat - now)
"""

_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local slot = now
if pause > slot then slot = pause end
if n >= limit then
  local kth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  local earliest = tonumber(kth[2]) + window
  if earliest > slot then slot = earliest end
end
local seq = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], 3600000)
redis.call('ZADD', KEYS[1], slot, tostring(seq))
redis.call('PEXPIRE', KEYS[1], math.ceil((slot - now + window) * 1000) + 1000)
return tostring(slot - now)
"""

_local_lock = threading.Lock()
_local_tat: dict[str, float] = {}
_local_slots: dict[str, list[float]] = {}
_clients: dict[str, Any] = {}

# A sliding-window slot missed by more than this is given up for a new one (see wait).
LATE = 0.02
LATE_RETRIES = 3

RATE_KEY = "prm:crm:rate:{key}:{minute}"
REFUSED_KEY = "prm:crm:refused:{key}:{minute}"


def redis_client() -> Any:
    """One client per process (None without Redis)."""
    url = settings.REDIS_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        import redis

        client = _clients[url] = redis.Redis.from_url(url)
    return client


class Throttle:
    def __init__(
        self,
        key: str,
        rate: float,
        burst: int = 1,
        margin: float = 0.97,
        window: float | None = None,
    ) -> None:
        self.name = key
        self.key = f"prm:crm:throttle:{key}"
        self.rate = rate  # the CRM's own bound (requests/s), shown against what we sent
        self.burst = max(burst, 1)
        # PRM_CRM_RATE_SCALE > 1 only in tests, against fakes whose limiter is off.
        scale = settings.PRM_CRM_RATE_SCALE
        self.interval = 1.0 / (rate * margin * scale)
        self.tolerance = max(burst - 1, 0) * self.interval
        self.window = window / scale if window else None
        self._scripts: dict[str, Any] = {}

    # -- redis

    def _run(self, name: str, source: str, keys: list[str], args: list[Any]) -> float | None:
        client = redis_client()
        if client is None:
            return None
        import redis

        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = client.register_script(source)
        try:
            return float(script(keys=keys, args=args))
        except redis.RedisError:
            return None

    def _reserve_local(self) -> float:
        with _local_lock:
            now = time.monotonic()
            if self.window:
                slots = [s for s in _local_slots.get(self.key, []) if s > now - self.window]
                slot = now
                if len(slots) >= self.burst:
                    slot = max(slot, slots[-self.burst] + self.window)
                slots.append(slot)
                _local_slots[self.key] = slots
                return slot - now
            tat = max(_local_tat.get(self.key, now), now)
            wait = max(tat - self.tolerance - now, 0.0)
            _local_tat[self.key] = tat + self.interval
            return wait

    def wait(self) -> float:
        """Take a slot; sleep until it comes. Returns the seconds slept.

        In a sliding window the slot must also be kept: a send that goes out late (the
        thread woke up late on a busy machine) would land closer than ``window`` to the
        sends already booked ``burst`` places after it. So a slot missed by more than
        ``LATE`` is left booked (an unused slot only slows the others) and a new one is
        taken, up to ``LATE_RETRIES`` times."""
        slept = 0.0
        for _ in range(LATE_RETRIES + 1):
            start = time.monotonic()
            delay = self.reserve()
            if delay > 0:
                time.sleep(delay)
                slept += delay
            if not self.window or time.monotonic() - start - delay <= LATE:
                break
        return slept

    def reserve(self) -> float:
        """Take a slot: the seconds until it comes (the caller sleeps)."""
        if self.window:
            delay = self._run(
                "window",
                _WINDOW,
                [self.key + ":w", self.key + ":pause", self.key + ":seq"],
                [self.window, self.burst],
            )
        else:
            delay = self._run("gcra", _GCRA, [self.key], [self.interval, self.tolerance])
        if delay is None:
            delay = self._reserve_local()
        return delay

    def penalize(self, pause: float = 0.0) -> None:
        """The CRM refused for rate (or said it is nearly full): forget our burst, wait
        ``pause`` more, then go at the sustained rate. Shared by every worker."""
        if self.window:
            client = redis_client()
            if client is not None:
                import redis

                try:
                    now = client.time()
                    until = now[0] + now[1] / 1e6 + max(pause, self.window)
                    client.set(self.key + ":pause", until, px=int(max(pause, 1) * 1000) + 2000)
                except redis.RedisError:
                    pass
            return
        done = self._run("penalize", _PENALIZE, [self.key], [self.tolerance, max(pause, 0.0)])
        if done is None:
            with _local_lock:
                now = time.monotonic()
                floor = now + self.tolerance + max(pause, 0.0)
                _local_tat[self.key] = max(_local_tat.get(self.key, now), floor)

    # -- counting (for the status page and crm_health)

    def count(self, *, refused: bool = False) -> None:
        """One request sent (and whether the CRM refused it for rate), per minute."""
        client = redis_client()
        if client is None:
            return
        import redis

        minute = int(time.time() // 60)
        try:
            pipe = client.pipeline(transaction=False)
            for pattern in (RATE_KEY, REFUSED_KEY) if refused else (RATE_KEY,):
                name = pattern.format(key=self.name, minute=minute)
                pipe.incr(name)
                pipe.expire(name, 3900)
            pipe.execute()
        except redis.RedisError:
            pass


def last_hour(key: str) -> dict[str, int]:
    """Requests sent and rate refusals over the last 60 minutes for a throttle key."""
    client = redis_client()
    if client is None:
        return {"requests": 0, "refused": 0}
    import redis

    minute = int(time.time() // 60)
    minutes = range(minute - 59, minute + 1)
    try:
        sent = client.mget([RATE_KEY.format(key=key, minute=m) for m in minutes])
        refused = client.mget([REFUSED_KEY.format(key=key, minute=m) for m in minutes])
    except redis.RedisError:
        return {"requests": 0, "refused": 0}
    return {
        "requests": sum(int(v) for v in sent if v),
        "refused": sum(int(v) for v in refused if v),
    }
