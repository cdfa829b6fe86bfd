"""CRM events coalesced per connection: an event is only a hint to re-read records, so
the ids it names wait in one Redis hash per connection (with what the event reported
of each, for telling our own writes' echoes apart) and one job reads whatever has
gathered, through the connector's batch reads. 500 Bitrix24 events about 500 leads
then cost about ten ``batch`` requests of 50 reads, not 500 requests.

Nothing is lost: an id leaves the hash only after its record was read and applied, and
only if no newer event came for it meanwhile (compared and deleted in one Lua step); a
job that dies leaves its ids for the next one, which the scheduler starts whenever ids
wait and no job does. Two different events about one id that meet in the hash are
read (the report is then unknown), so a person's edit is never taken for our echo.
Without Redis, each event is read by a job of its own, as before."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from integrations.crm.engine import start_job
from integrations.crm.throttle import redis_client
from integrations.models import CrmConnection

DRAIN_JOB = "integrations.crm.event_queue.drain"
KEY = "prm:crm:events:{connection}"

# Per id "report#n", n new on every event (so one arriving while its record is read
# keeps it waiting); a report that differs from the one waiting makes it unknown ('').
_ADD = """
local n = redis.call('INCR', KEYS[2])
for i = 1, #ARGV, 2 do
  local report = ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if old and string.match(old, '^(.*)#%d+$') ~= report then
    report = ''
  end
  redis.call('HSET', KEYS[1], ARGV[i], report .. '#' .. n)
end
return n
"""
# Per id read: removed only if what waits is still what was taken.
_DONE = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n
"""


def _key(connection_id: Any) -> str:
    return KEY.format(connection=connection_id)


def _flat(pairs: dict[str, str]) -> list[str]:
    return [part for item in pairs.items() for part in item]


def add(crm: CrmConnection, crm_ids: list[str], versions: dict[str, str]) -> bool:
    """Queue these ids for reading (False without Redis: the caller reads them itself)."""
    client = redis_client()
    if client is None:
        return False
    import redis

    try:
        key = _key(crm.pk)
        client.eval(_ADD, 2, key, key + ":n", *_flat({i: versions.get(i, "") for i in crm_ids}))
    except redis.RedisError:
        return False
    start_job(DRAIN_JOB, crm)
    return True


def waiting(crm: CrmConnection) -> int:
    """How many ids wait (the scheduler starts a drain when some do and none runs)."""
    client = redis_client()
    if client is None:
        return 0
    import redis

    try:
        return int(client.hlen(_key(crm.pk)))
    except redis.RedisError:
        return 0


def take(connection_id: Any, limit: int) -> dict[str, str]:
    """Up to ``limit`` waiting ids, each with its "report#n" (left in place until
    ``done``; ``report_of`` gives the report)."""
    client = redis_client()
    taken: dict[str, str] = {}
    for field, value in client.hscan_iter(_key(connection_id), count=min(limit, 1000)):
        taken[field.decode()] = value.decode()
        if len(taken) >= limit:
            break
    return taken


def report_of(value: str) -> str:
    return value.rpartition("#")[0]


def done(connection_id: Any, taken: dict[str, str]) -> int:
    """Remove the ids read, except those a newer event changed meanwhile."""
    if not taken:
        return 0
    return int(redis_client().eval(_DONE, 1, _key(connection_id), *_flat(taken)))


def drain(connection_id: str) -> int:
    """Job: read what waits for this connection, at most PRM_CRM_POLL_SLICE ids, then
    queue itself again at the back of the crm queue while more waits (fair to other
    connections); returns the ids read."""
    from integrations.crm.inbound import pull_records

    crm = CrmConnection.objects.select_related("tenant").filter(pk=connection_id).first()
    if crm is None or not crm.is_active:
        return 0  # left waiting: read after reconnecting (or by the reconciliation)
    taken = take(crm.pk, settings.PRM_CRM_POLL_SLICE)
    if taken:
        versions = {i: report_of(v) for i, v in taken.items() if report_of(v)}
        pull_records(str(crm.pk), list(taken), versions)  # raises: all stay waiting
        done(crm.pk, taken)
    if waiting(crm):
        start_job(DRAIN_JOB, crm)
    return len(taken)
