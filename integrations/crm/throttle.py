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
  strict count like amoCRM's 7 requests per second. The CRM counts a request at some
  moment between our send and its answer, and on a busy machine (or network) that moment
  can be hundreds of milliseconds after the send. So ``wait`` lets a request go only
  while fewer than ``burst`` requests still count: each counts from its send until
  ``window`` after its answer (``answered``, called by the transport). Then no 8th can
  land in one of the CRM's windows whatever the delays, the first ``burst`` go at once,
  and the margin is only the answer time (GCRA at 7/s with burst 1 would waste the
  window's slack). ``reserve`` plans slots from send times alone (no answers): it is what
  the GCRA shape uses, and shows the window's arithmetic.

Every request and every rate refusal is also counted per minute (``count``), so the
status page and ``crm_health`` can show what each CRM allowed in the last hour.
"""

from __future__ import annotations

import contextlib
import itertools
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

# Sliding window, as sent and answered (``Throttle.wait`` / ``answered``): a sorted set
# of requests scored by the moment they stop counting against the window's start: the
# answer's time, or send time + ``flight`` while no answer came (a crashed worker's
# request expires). A request may go when fewer than ``limit`` members are left after
# dropping those answered over ``window`` ago; else the caller waits for the oldest to
# leave (or polls, while the one holding the window is still unanswered).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local flight = tonumber(ARGV[3])
local poll = tonumber(ARGV[4])
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause > now then return {tostring(pause - now), false} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  local seq = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], 3600000)
  local member = tostring(seq)
  redis.call('ZADD', KEYS[1], now + flight, member)
  redis.call('PEXPIRE', KEYS[1], math.ceil((flight + window) * 1000) + 1000)
  return {'0', member}
end
local kth = tonumber(redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')[2])
if kth > now then return {tostring(poll), false} end
return {tostring(math.max(kth + window - now, 0.001)), false}
"""

_ANSWERED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 1
"""

# While the request holding the window is unanswered, look again this often (seconds).
FLYING_POLL = 0.01

_local_lock = threading.Lock()
_local_flying: dict[str, dict[str, float | None]] = {}
_local_seq = itertools.count()
_local_tat: dict[str, float] = {}
_local_slots: dict[str, list[float]] = {}
_clients: dict[str, Any] = {}

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
        self._thread = threading.local()  # the window member of this thread's request

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
        """Take a slot; sleep until it comes. Returns the seconds slept. In a sliding
        window the request then counts as in flight until ``answered`` (same thread)."""
        if self.window:
            return self._wait_window()
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)
        return delay

    def answered(self) -> None:
        """The request sent after this thread's ``wait`` has its answer (or failed): in a
        sliding window it now counts from the moment of the answer, not the send."""
        member = getattr(self._thread, "member", None)
        if not self.window or member is None:
            return
        self._thread.member = None
        if member.startswith("local:"):
            with _local_lock:
                flying = _local_flying.setdefault(self.key, {})
                if member in flying:
                    flying[member] = time.monotonic()
            return
        client = redis_client()
        if client is None:
            return
        import redis

        with contextlib.suppress(redis.RedisError):
            self._script("answered", _ANSWERED)(keys=[self.key + ":f"], args=[member])

    def _wait_window(self) -> float:
        """Send only while fewer than ``burst`` requests may have reached the CRM within
        the last ``window``: a request counts from its send until ``window`` after its
        answer (the CRM counted it at some moment in between: the answer is the latest
        it can be). Jitter on the way, a slow CRM or a descheduled server then cannot
        put an extra request into one of the CRM's windows, whatever the machine load."""
        slept = 0.0
        while True:
            delay, member = self._take_window()
            if member is not None:
                self._thread.member = member
                return slept
            time.sleep(delay)
            slept += delay

    def _take_window(self) -> tuple[float, str | None]:
        """(0, member) when the request may go now, else (seconds to wait, None)."""
        flight = settings.PRM_CRM_HTTP_TIMEOUT + 5.0  # an answer that never came
        client = redis_client()
        if client is not None:
            import redis

            try:
                wait, member = self._script("take", _TAKE)(
                    keys=[self.key + ":f", self.key + ":pause", self.key + ":seq"],
                    args=[self.window, self.burst, flight, FLYING_POLL],
                )
                return float(wait), member.decode() if member else None
            except redis.RedisError:
                pass
        with _local_lock:
            now = time.monotonic()
            flying = _local_flying.setdefault(self.key, {})
            for key, at in list(flying.items()):
                if at is not None and at <= now - self.window:
                    del flying[key]
            if len(flying) < self.burst:
                member = f"local:{next(_local_seq)}"
                flying[member] = None  # None: no answer yet
                return 0.0, member
            ends = sorted(
                now + FLYING_POLL if at is None else at + self.window for at in flying.values()
            )
            return max(ends[len(flying) - self.burst] - now, 0.001), None

    def _script(self, name: str, source: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = redis_client().register_script(source)
        return script

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
