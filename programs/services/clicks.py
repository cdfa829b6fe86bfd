"""Click ingestion: validate, deduplicate, buffer in a Redis stream, flush in batches.

A click answered 204 is in the Redis stream (or, without Redis, in the database).
The flusher reads the stream through a consumer group: entries are acknowledged only
after their rows are committed, entries of a flusher that died are claimed again after
CLAIM_IDLE_MS, and the unique ``ingest_id`` (the stream entry id) makes a second
insert of the same entry a no-op. So a click is written exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction

from prm.inputs import InputError, clean_text, parse_json
from programs.services import lookups

log = logging.getLogger(__name__)

STREAM = "prm:clicks"
DEAD_LETTERS = "prm:clicks:dead"  # a list of JSON {"id", "reason", "data", "at"}
DEAD_LETTERS_KEEP = 10_000
GROUP = "flush"
DEDUPE_SECONDS = 30
CLAIM_IDLE_MS = 60_000
MAX_BODY = 4096
VISITOR_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# One round trip: remember the visitor+code for the dedupe window, and only if it is
# new, append the click to the stream.
_ACCEPT_LUA = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
end
return false
"""


class ClickError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ClickInput:
    key: str
    code: str
    visitor: str
    sub: str = ""
    url: str = ""
    referrer: str = ""
    # From the referral link's query; the snippet's clicks take them from ``url``.
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    # A marketing material's id (``m`` on ``/r/CODE``), checked as a UUID by the view.
    material: str = ""


def parse_click(body: bytes) -> ClickInput:
    """Validate the snippet's JSON body (sent as text/plain to avoid a preflight)."""
    try:
        data = parse_json(body, max_bytes=MAX_BODY)  # cleaned: no NUL, no lone surrogate
    except InputError as exc:
        raise ClickError(exc.status, exc.message) from None
    if not isinstance(data, dict):
        raise ClickError(400, "body must be a JSON object")
    fields = {}
    for name in ("k", "c", "v", "s", "u", "r"):
        value = data.get(name, "")
        if not isinstance(value, str):
            raise ClickError(400, f"field {name} must be a string")
        fields[name] = value.strip()
    if not fields["k"] or len(fields["k"]) > 40:
        raise ClickError(400, "missing or invalid key (k)")
    if not CODE_RE.match(fields["c"]):
        raise ClickError(400, "missing or invalid referral code (c)")
    if not VISITOR_RE.match(fields["v"]):
        raise ClickError(400, "missing or invalid visitor id (v)")
    return ClickInput(
        key=fields["k"],
        code=fields["c"],
        visitor=fields["v"],
        sub=fields["s"][:64],
        url=_clean_url(fields["u"]),
        referrer=_clean_url(fields["r"]),
    )


def _clean_url(value: str) -> str:
    value = clean_text(value, 2048)
    return value if value.startswith(("http://", "https://")) else ""


def mask_ip(ip: str, mode: str) -> str:
    """Never store a full visitor IP: zero the host part, or keep a salted hash."""
    try:
        addr = ip_address(ip)
    except ValueError:
        return ""
    if mode == "hash":
        return hashlib.sha256(f"{settings.SECRET_KEY}:{addr}".encode()).hexdigest()[:32]
    if addr.version == 4:
        return ".".join(str(addr).split(".")[:3] + ["0"])
    return str(addr.exploded)[:14] + "::"  # keep the /48


def verdict(enrollment: dict[str, Any], program: dict[str, Any]) -> str:
    """Why a click must not credit anyone ('' when it may)."""
    if program["status"] != "active":
        return f"program_{program['status']}"
    if enrollment["partner_status"] != "active":
        return f"partner_{enrollment['partner_status']}"
    if enrollment["status"] != "active":
        return f"enrollment_{enrollment['status']}"
    return ""


def click_accept(
    click: ClickInput,
    *,
    tenant_id: str | None,
    ip: str,
    user_agent: str,
    source: str = "snippet",
) -> bool:
    """Accept a click (True) or drop it as a repeat (False); raise ClickError on bad input.

    ``tenant_id`` is the tenant of the request's host: a key of another tenant is
    unknown here.
    """
    program = lookups.program_for_key(click.key)
    if program is None or (tenant_id is not None and program["tenant_id"] != tenant_id):
        raise ClickError(404, "unknown key")
    enrollment = lookups.enrollment_for_code(program["tenant_id"], click.code)
    if enrollment is None or enrollment["program_id"] != program["id"]:
        raise ClickError(404, "unknown referral code")
    record = {
        "t": program["tenant_id"],
        "p": program["id"],
        "e": enrollment["id"],
        "pa": enrollment["partner_id"],
        "c": enrollment["code"],
        "v": click.visitor,
        "s": click.sub,
        "u": click.url,
        "r": click.referrer,
        **_utm_record(click),
        "ua": clean_text(user_agent, 512),
        "ip": mask_ip(ip, program["ip_mode"]),
        "x": verdict(enrollment, program),
        "src": source,
        "m": click.material or None,
        "at": datetime.now(UTC).timestamp(),
    }
    record = clean_record(record)
    if settings.PRM_JOBS_INLINE:
        return _write_now(record)
    import redis

    dedupe = f"prm:clk:dd:{program['id']}:{click.visitor}:{enrollment['code']}"
    try:
        result = _accept_script()(keys=[dedupe, STREAM], args=[DEDUPE_SECONDS, json.dumps(record)])
    except redis.RedisError as exc:
        # Redis away: the click is written at once rather than refused (its dedupe is
        # then the database's, as without Redis).
        log.warning("click buffer unavailable, writing directly: %s", exc)
        return _write_now(record)
    return result is not None


def _utm_record(click: ClickInput) -> dict[str, str]:
    from programs.analytics.channel import Utm, utm_clean, utm_from_url

    utm = Utm(*(utm_clean(v) for v in (click.utm_source, click.utm_medium, click.utm_campaign)))
    if not utm:
        utm = utm_from_url(click.url)
    return {"us": utm.utm_source, "um": utm.utm_medium, "uc": utm.utm_campaign}


# Text fields of a buffered click and their column lengths.
_RECORD_TEXT = {
    "c": 64, "v": 64, "s": 64, "u": 2048, "r": 2048, "ua": 512, "ip": 64, "x": 64, "src": 16,
    "us": 100, "um": 100, "uc": 100,
}  # fmt: skip


def clean_record(record: dict[str, Any]) -> dict[str, Any]:
    """A click record fit for PostgreSQL, or ValueError: cleaned when accepted, and again
    when flushed (the stream is outside data until it is in the database)."""
    if not isinstance(record, dict):
        raise ValueError("click record is not an object")
    cleaned = dict(record)
    for name in ("t", "p"):
        cleaned[name] = str(uuid.UUID(str(record[name])))
    for name in ("e", "pa", "m"):  # none for the click of an unknown referral code
        value = record.get(name)
        cleaned[name] = None if value is None else str(uuid.UUID(str(value)))
    for name, limit in _RECORD_TEXT.items():
        value = record.get(name, "")
        cleaned[name] = clean_text(value if isinstance(value, str) else str(value), limit)
    at = record["at"]
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 < at < 4102444800:
        raise ValueError("click record has no valid time")
    return cleaned


def redis_client() -> Any:
    import django_rq

    return django_rq.get_connection("tracking")


_script: Any = None


def _accept_script() -> Any:
    global _script
    if _script is None:
        _script = redis_client().register_script(_ACCEPT_LUA)
    return _script


PAID_CLICK_IDS = ("gclid", "yclid", "fbclid", "msclkid")  # Google, Yandex, Meta, Microsoft


def paid_click_id(url: str) -> str:
    """Which ad network's click id the landing URL carries ('' for none)."""
    if "clid" not in url and "clkid" not in url:  # the fast path: most carry none
        return ""
    from urllib.parse import parse_qsl, urlsplit

    names = {name.lower() for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    return next((name for name in PAID_CLICK_IDS if name in names), "")


def _row(ingest_id: str, record: dict[str, Any]) -> Any:
    from ua_parser import parse

    from programs.models import Click

    ua = parse(record.get("ua", "")) if record.get("ua") else None
    reason = record.get("x", "")
    return Click(
        ingest_id=ingest_id,
        tenant_id=record["t"],
        program_id=record["p"],
        enrollment_id=record.get("e"),  # None: a rejected click with an unknown code
        partner_id=record.get("pa"),
        code=record["c"],
        visitor_id=record["v"],
        sub_id=record.get("s", ""),
        utm_source=record.get("us", ""),
        utm_medium=record.get("um", ""),
        utm_campaign=record.get("uc", ""),
        landing_url=record.get("u", ""),
        referrer=record.get("r", ""),
        source=record.get("src", "snippet"),
        browser=(ua.user_agent.family if ua and ua.user_agent else "")[:64],
        os=(ua.os.family if ua and ua.os else "")[:64],
        device=(ua.device.family if ua and ua.device else "")[:64],
        ip=record.get("ip", ""),
        paid_click=paid_click_id(record.get("u", "")),
        material_id=record.get("m"),
        status=Click.Status.REJECTED if reason else Click.Status.ACCEPTED,
        reject_reason=reason,
        created_at=datetime.fromtimestamp(record["at"], UTC),
    )


def _write_now(record: dict[str, Any]) -> bool:
    """Without Redis: dedupe against the database and insert at once."""
    from datetime import timedelta

    from programs.models import Click

    since = datetime.fromtimestamp(record["at"], UTC) - timedelta(seconds=DEDUPE_SECONDS)
    # Written outside any request scope (the snippet's endpoint has no session).
    repeat = Click.all_tenants_unscoped.filter(
        tenant_id=record["t"],
        program_id=record["p"],
        visitor_id=record["v"],
        code=record["c"],
        created_at__gte=since,
    ).exists()
    if repeat:
        return False
    from programs.analytics.refresh import clicks_rolled_up

    row = _row(f"db-{uuid.uuid4().hex}", record)
    with transaction.atomic():
        row.save(force_insert=True)
        clicks_rolled_up([row.ingest_id])
    return True


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def clicks_flush(
    *, batch: int = 2000, max_batches: int = 50, claim_idle_ms: int = CLAIM_IDLE_MS
) -> int:
    """Move buffered clicks from the Redis stream into PostgreSQL; returns rows handled."""
    if settings.PRM_JOBS_INLINE:
        return 0
    import redis

    r = redis_client()
    try:
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    consumer = _consumer_name()
    handled = 0
    # First the entries a dead flusher left unacknowledged, then new ones.
    _, claimed, *_ = r.xautoclaim(STREAM, GROUP, consumer, claim_idle_ms, "0-0", count=batch)
    pending = [e for e in claimed if e[1]]
    for _ in range(max_batches):
        if not pending:
            response = r.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=batch)
            pending = response[0][1] if response else []
        if not pending:
            break
        ids = [entry_id for entry_id, _fields in pending]
        rows = []
        for entry_id, fields in pending:
            try:
                record = clean_record(json.loads(fields[b"d"]))
                rows.append(_row(_text(entry_id), record))
            except Exception as exc:  # a malformed entry must not block the stream
                _dead_letter(r, entry_id, fields, f"malformed: {exc}")
        # An enrollment deleted since the click was accepted takes its clicks with it.
        from programs.models import Enrollment

        live = set(
            Enrollment.all_tenants_unscoped.filter(
                pk__in={row.enrollment_id for row in rows}
            ).values_list("pk", flat=True)
        )
        rows = [
            row
            for row in rows
            if row.enrollment_id is None or uuid.UUID(str(row.enrollment_id)) in live
        ]
        _store(r, rows)
        r.xack(STREAM, GROUP, *ids)
        r.xdel(STREAM, *ids)
        handled += len(ids)
        pending = []
    return handled


# What one bad row can raise; a lost connection (OperationalError) is not one of them:
# it leaves the batch unacknowledged, to be claimed again.
_ROW_ERRORS = (DataError, IntegrityError, ValueError, TypeError)


def _store(r: Any, rows: list[Any]) -> None:
    """Insert the batch and add it to the rollups (one upsert); if it fails, row by
    row, each bad row to the dead letters."""
    from programs.analytics.refresh import clicks_rolled_up
    from programs.models import Click

    try:
        with transaction.atomic():
            # Cross-tenant by nature: one stream carries every tenant's clicks.
            # Entries a dead flusher already stored are left out, so the rollups count
            # each click once (the unique ingest_id still guards the insert).
            stored = set(
                Click.all_tenants_unscoped.filter(
                    ingest_id__in=[row.ingest_id for row in rows]
                ).values_list("ingest_id", flat=True)
            )
            rows = [row for row in rows if row.ingest_id not in stored]
            Click.all_tenants_unscoped.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
            # Foreign keys are checked at commit; here, so a bad row fails inside the try.
            connection.check_constraints()
            clicks_rolled_up([row.ingest_id for row in rows])
        return
    except _ROW_ERRORS:
        log.warning("click batch refused; storing its %d rows one by one", len(rows))
    for row in rows:
        try:
            with transaction.atomic():
                if Click.all_tenants_unscoped.filter(ingest_id=row.ingest_id).exists():
                    continue
                Click.all_tenants_unscoped.bulk_create([row], ignore_conflicts=True)
                connection.check_constraints()
                clicks_rolled_up([row.ingest_id])
        except _ROW_ERRORS as exc:
            _dead_letter(r, row.ingest_id, {}, f"refused by the database: {exc}")


def _dead_letter(r: Any, entry_id: Any, fields: dict[Any, Any], reason: str) -> None:
    """Keep a click that cannot be stored, with its reason, for a person to look at."""
    log.error("click entry %s set aside: %s", _text(entry_id), reason)
    raw = fields.get(b"d", b"") if isinstance(fields, dict) else b""
    entry = {
        "id": _text(entry_id),
        "reason": reason[:1000],
        "data": raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw),
        "at": datetime.now(UTC).isoformat(),
    }
    r.lpush(DEAD_LETTERS, json.dumps(entry))
    r.ltrim(DEAD_LETTERS, 0, DEAD_LETTERS_KEEP - 1)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
