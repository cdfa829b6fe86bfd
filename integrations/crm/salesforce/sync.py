"""The Salesforce connector: PRM leads as Salesforce Leads, written with sObject
Collections (200 per request, ``allOrNone: false``), matched before creating with one
bulk SOQL query per chunk, read back by polling ``SystemModstamp``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from integrations.crm.base import (
    Connector,
    CrmField,
    CrmRecord,
    CrmRetryable,
    CrmStage,
    CrmValidationError,
    PushResult,
    RemoteRecord,
)
from integrations.crm.salesforce import mapping as M
from integrations.crm.salesforce import webhooks
from integrations.crm.salesforce.client import DEFAULT_RESERVE, DEFAULT_VERSION, SalesforceClient
from integrations.crm.salesforce.deal_fields import opportunity_payload

KEY_FIELD = "PRM_Lead_Id__c"
LEAD_SOURCE = "Partner Referral"
# SOQL statements may be 100,000 characters long; bulk look-ups are split below this
# (a 200-record chunk needs about 30,000: it is one query).
MAX_SOQL = 80_000
# Per-record error codes worth another try later; everything else is the data's fault.
RETRYABLE_CODES = {
    "UNKNOWN_EXCEPTION",
    "UNABLE_TO_LOCK_ROW",
    "REQUEST_LIMIT_EXCEEDED",
    "SERVER_UNAVAILABLE",
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
}


class SalesforceConnector(Connector):
    provider: ClassVar[str] = "salesforce"
    batch_size: ClassVar[int] = 200  # sObject Collections' maximum

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_field = str(self.settings.get("key_field", KEY_FIELD) or "")
        self.client = SalesforceClient(
            base_url=self.base_url,
            auth_url=self.auth_url,
            credentials=self.credentials,
            stats=self.stats,
            throttle_key=self.throttle_key,
            api_version=str(self.settings.get("api_version") or DEFAULT_VERSION),
            reserve=float(self.settings.get("api_reserve", DEFAULT_RESERVE)),
        )

    @property
    def allowance(self) -> tuple[int, int] | None:
        """(used, max) of the org's daily API allowance, as last reported."""
        return self.client.allowance

    def close(self) -> None:
        self.client.close()

    # -- connection ----------------------------------------------------------------------

    def test_connection(self) -> str:
        rows = self.client.query("SELECT Id, Name, DefaultCurrencyIsoCode FROM Organization")
        if not rows:
            raise CrmValidationError("Salesforce returned no organization for this user")
        org = rows[0]
        self.settings["org_id"] = str(org.get("Id") or "")
        if not self.settings.get("currency"):
            self.settings["currency"] = str(org.get("DefaultCurrencyIsoCode") or "USD")
        return f"{org.get('Name') or 'Salesforce'} ({org.get('Id')})"

    def list_fields(self) -> list[CrmField]:
        data = self.client.request("GET", "sobjects/Lead/describe") or {}
        described = [f for f in data.get("fields", []) if isinstance(f, dict)]
        names = {str(f.get("name")) for f in described}
        self.settings["multi_currency"] = "CurrencyIsoCode" in names
        custom = [
            CrmField(str(f["name"]), str(f.get("label") or f["name"]))
            for f in described
            if f.get("custom") and f.get("updateable", True)
        ]
        return [*M.STANDARD_FIELDS, *custom]

    def list_stages(self) -> list[CrmStage]:
        stages = [
            CrmStage(
                M.LEAD_PIPELINE,
                "Leads",
                str(row["ApiName"]),
                str(row.get("MasterLabel") or row["ApiName"]),
                "lost" if row["ApiName"] == M.LOST_STATUS else "open",
            )
            for row in self.client.query(
                "SELECT ApiName, MasterLabel, IsConverted, SortOrder FROM LeadStatus "
                "ORDER BY SortOrder"
            )
            if not row.get("IsConverted")  # a converted Lead is shown by its Opportunity
        ]
        for row in self.client.query(
            "SELECT ApiName, MasterLabel, IsClosed, IsWon, IsActive, SortOrder "
            "FROM OpportunityStage ORDER BY SortOrder"
        ):
            semantic = "won" if row.get("IsWon") else "lost" if row.get("IsClosed") else "open"
            name = str(row["ApiName"])
            label = str(row.get("MasterLabel") or name)
            stages.append(CrmStage(M.OPP_PIPELINE, "Opportunities", name, label, semantic))
        return stages

    # -- PRM -> CRM ----------------------------------------------------------------------

    def push(self, records: list[CrmRecord]) -> list[PushResult]:
        results: list[PushResult | None] = [None] * len(records)
        for start in range(0, len(records), self.batch_size):
            chunk = records[start : start + self.batch_size]
            try:
                self._push_chunk(chunk, results, start)
            except CrmValidationError as exc:  # the look-up itself was refused
                for n in range(start, start + len(chunk)):
                    results[n] = results[n] or _failed(records[n], "validation", str(exc))
            except CrmRetryable as exc:  # incl. CrmRateLimited; CrmAuthError propagates
                # Charged: the records of the request that failed (the chunk's look-up,
                # or the write that carried them); the rest was never sent.
                tried = getattr(exc, "sent_at", None) or range(start, start + len(chunk))
                for n in range(start, len(records)):
                    if results[n] is None:
                        results[n] = _failed(records[n], "retryable", str(exc))
                        results[n].retry_after = getattr(exc, "retry_after", 0.0)
                        results[n].sent = n in tried
                break
        return [
            r or _failed(records[n], "retryable", "not attempted") for n, r in enumerate(results)
        ]

    def _push_chunk(
        self, chunk: list[CrmRecord], results: list[PushResult | None], offset: int
    ) -> None:
        # Custom fields are read back to compare before writing; only those Salesforce
        # described (when known), so one bad mapping cannot break the look-up.
        known = {f.get("key") for f in self.settings.get("fields") or [] if isinstance(f, dict)}
        extra = sorted(
            {k for r in chunk for k in r.values if k.endswith("__c") and (not known or k in known)}
        )
        linked = [r.crm_id for r in chunk if r.crm_id]
        unlinked = [r for r in chunk if not r.crm_id]
        rows = self._find(linked, unlinked, extra)
        by_id = {str(row["Id"]): row for row in rows}
        missing = [r for r in chunk if r.crm_id and r.crm_id not in by_id]
        if missing:  # deleted or merged away in Salesforce: look for the survivor
            rows += self._find([], missing, extra)
        matcher = _Matcher(rows, self.key_field)
        creates: list[tuple[int, dict[str, Any]]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        for n, record in enumerate(chunk):
            row = by_id.get(record.crm_id) if record.crm_id else None
            row = row or matcher.find(record)
            at = offset + n
            if row is None and record.crm_id:
                message = f"Lead {record.crm_id} no longer exists in Salesforce"
                results[at] = _failed(record, "validation", message)
            elif row is None:
                body = M.create_payload(
                    record,
                    key_field=self.key_field,
                    lead_source=str(self.settings.get("lead_source", LEAD_SOURCE)),
                )
                creates.append((at, body))
            else:
                ok = _ok(record, row, matched=not record.crm_id)
                # A converted Lead is read-only in Salesforce; the deal lives on.
                body = (
                    {}
                    if row.get("IsConverted")
                    else M.update_payload(record, row, key_field=self.key_field)
                )
                deal = opportunity_payload(record, row) if row.get("IsConverted") else {}
                if deal:
                    updates.append((at, deal))
                    matcher.pending[at] = ok
                elif body:
                    updates.append((at, body))
                    matcher.pending[at] = ok
                else:
                    results[at] = ok
        by_at = {offset + n: r for n, r in enumerate(chunk)}
        for part in _unique_rounds(updates):
            self._write("PATCH", part, by_at, results, matcher.pending)
        if creates:
            self._write("POST", creates, by_at, results, {})

    def _write(
        self,
        method: str,
        items: list[tuple[int, dict[str, Any]]],
        by_at: dict[int, CrmRecord],
        results: list[PushResult | None],
        pending: dict[int, PushResult],
    ) -> None:
        """One sObject Collections request; per-record SaveResults in input order."""
        try:
            answer = self.client.request(
                method,
                "composite/sobjects",
                json={"allOrNone": False, "records": [body for _, body in items]},
                # Re-sending the same update is harmless; a create is never re-sent
                # blindly (the next push finds it by our key instead).
                idempotent=method == "PATCH",
            )
        except CrmValidationError as exc:
            for at, _ in items:
                results[at] = _failed(by_at[at], "validation", str(exc))
            return
        except CrmRetryable as exc:
            exc.sent_at = {at for at, _ in items}  # type: ignore[attr-defined]
            raise
        answers = answer if isinstance(answer, list) else []
        for n, (at, _) in enumerate(items):
            save = answers[n] if n < len(answers) and isinstance(answers[n], dict) else {}
            record = by_at[at]
            if save.get("success"):
                results[at] = pending.get(at) or PushResult(
                    key=record.key, ok=True, crm_id=str(save.get("id") or "")
                )
                continue
            errors = [e for e in save.get("errors") or [] if isinstance(e, dict)]
            codes = {str(e.get("statusCode") or "") for e in errors}
            kind = "retryable" if not errors or codes & RETRYABLE_CODES else "validation"
            text = "; ".join(
                f"{e.get('statusCode')}: {e.get('message')}"
                + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
                for e in errors
            )
            results[at] = _failed(record, kind, text or "no result from Salesforce")

    def _find(
        self, ids: list[str], records: list[CrmRecord], extra: list[str]
    ) -> list[dict[str, Any]]:
        """Leads that are one of ``ids`` or carry one of these records' key, e-mail or
        phone: one SOQL query for a whole chunk."""
        terms: list[tuple[str, str]] = [("Id", i) for i in ids]
        for record in records:
            if self.key_field:
                terms.append((self.key_field, record.key))
            email = record.values.get("email", record.email).strip()
            if email:
                terms.append(("Email", email))
            phone = record.values.get("phone", record.phone)
            terms += [("Phone", p) for p in M.phone_variants(phone)]
        if not terms:
            return []
        columns = list(
            dict.fromkeys([*M.LEAD_COLUMNS, *([self.key_field] if self.key_field else []), *extra])
        )
        head = f"SELECT {', '.join(columns)} FROM Lead WHERE "  # noqa: S608 (SOQL, values quoted)
        rows: dict[str, dict[str, Any]] = {}
        for where in self._packed(head, list(dict.fromkeys(terms))):
            for row in self.client.query(head + where):
                rows[str(row["Id"])] = row
        return list(rows.values())

    def _packed(self, head: str, terms: list[tuple[str, str]]) -> Iterable[str]:
        """WHERE clauses ``A IN (...) OR B IN (...)`` that each fit in one statement."""
        budget = MAX_SOQL - len(head)
        groups: dict[str, list[str]] = {}
        used = 0
        for field, value in terms:
            cost = len(M.soql_quote(value)) + 2
            if field not in groups:
                cost += len(f" OR {field} IN ()")
            if groups and used + cost > budget:
                yield _where(groups)
                groups, used = {}, 0
                cost += len(f" OR {field} IN ()")
            groups.setdefault(field, []).append(value)
            used += cost
        if groups:
            yield _where(groups)

    # -- CRM -> PRM ----------------------------------------------------------------------

    @property
    def _custom_keys(self) -> list[str]:
        known = [
            str(f.get("key"))
            for f in self.settings.get("fields") or []
            if isinstance(f, dict) and str(f.get("key", "")).endswith("__c")
        ]
        return list(dict.fromkeys([*([self.key_field] if self.key_field else []), *known]))

    def _lead_columns(self) -> str:
        return ", ".join(dict.fromkeys([*M.LEAD_COLUMNS, *self._custom_keys]))

    def fetch(self, crm_ids: list[str]) -> list[RemoteRecord]:
        head = f"SELECT {self._lead_columns()} FROM Lead WHERE "  # noqa: S608 (SOQL, values quoted)
        rows: dict[str, dict[str, Any]] = {}
        terms = [("Id", i) for i in dict.fromkeys(crm_ids)]
        for where in self._packed(head, terms):
            for row in self.client.query(head + where):
                rows[str(row["Id"])] = row
        remote = self._remote(list(rows.values()))
        by_id = {r.crm_id: r for r in remote}
        return [by_id.get(i) or RemoteRecord(crm_id=i, deleted=True) for i in crm_ids]

    def changes_since(self, cursor: str) -> tuple[list[RemoteRecord], str]:
        records, cursor, _ = self.changes_page(cursor, 0)
        return records, cursor

    def changes_page(self, cursor: str, limit: int) -> tuple[list[RemoteRecord], str, bool]:
        """Leads modified (or deleted: ``queryAll`` keeps them) after the cursor, plus
        converted Leads whose Opportunity changed (that does not touch the Lead).

        The cursor is ``<lead SystemModstamp>|<lead Id>|<opportunity SystemModstamp>``.
        Queries ask from the start of the cursor's second (SOQL datetimes have whole
        seconds) and rows already seen are dropped here. With ``limit``, the query's
        pages stop once that many new Leads are read; the keyset cursor goes on."""
        lead_at, lead_id, opp_at = _parse_cursor(cursor)
        columns = self._lead_columns()
        where = ""
        if lead_at:
            where = f" WHERE SystemModstamp >= {M.soql_datetime(_floor(lead_at))}"
        rows: dict[str, dict[str, Any]] = {}
        soql = f"SELECT {columns} FROM Lead{where} ORDER BY SystemModstamp, Id"  # noqa: S608
        more = False
        for page in self.client.query_pages(soql, all_rows=True):
            for row in page:
                stamp = M.parse_datetime(row.get("SystemModstamp"))
                if lead_at and stamp and (stamp, str(row["Id"])) <= (lead_at, lead_id):
                    continue
                rows[str(row["Id"])] = row
            if limit and len(rows) >= limit:
                more = True  # perhaps: the next slice finds out
                break
        last = max(
            ((M.parse_datetime(r.get("SystemModstamp")), str(r["Id"])) for r in rows.values()),
            default=None,
            key=lambda pair: (pair[0] or datetime.min.replace(tzinfo=UTC), pair[1]),
        )
        if last and last[0]:
            lead_at, lead_id = last[0], last[1]
        opp_rows: dict[str, dict[str, Any]] = {}
        if opp_at:
            opp_rows = {
                str(r["Id"]): r
                for r in self.client.query(
                    f"SELECT {columns} FROM Lead WHERE IsConverted = true AND "  # noqa: S608
                    "ConvertedOpportunityId IN (SELECT Id FROM Opportunity WHERE "
                    f"SystemModstamp >= {M.soql_datetime(_floor(opp_at))})"
                )
            }
        opportunities = self._opportunities(
            [r for r in [*rows.values(), *opp_rows.values()] if r.get("ConvertedOpportunityId")]
        )
        newest_opp = opp_at
        for opp in opportunities.values():
            stamp = M.parse_datetime(opp.get("SystemModstamp"))
            if stamp and (newest_opp is None or stamp > newest_opp):
                newest_opp = stamp
        for lead_key, row in opp_rows.items():
            opp = opportunities.get(str(row.get("ConvertedOpportunityId")))
            stamp = M.parse_datetime((opp or {}).get("SystemModstamp"))
            if lead_key not in rows and stamp and opp_at and stamp > opp_at:
                rows[lead_key] = row
        newest_opp = newest_opp or lead_at
        records = [self._one(row, opportunities) for row in rows.values()]
        return records, _format_cursor(lead_at, lead_id, newest_opp), more

    def _opportunities(self, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(str(r["ConvertedOpportunityId"]) for r in rows))
        if not ids:
            return {}
        columns = list(M.OPP_COLUMNS)
        if self.settings.get("multi_currency"):
            columns.append("CurrencyIsoCode")
        head = f"SELECT {', '.join(columns)} FROM Opportunity WHERE "  # noqa: S608 (SOQL, values quoted)
        found: dict[str, dict[str, Any]] = {}
        for where in self._packed(head, [("Id", i) for i in ids]):
            for row in self.client.query(head + where):
                found[str(row["Id"])] = row
        return found

    def _remote(self, rows: list[dict[str, Any]]) -> list[RemoteRecord]:
        opportunities = self._opportunities([r for r in rows if r.get("ConvertedOpportunityId")])
        return [self._one(row, opportunities) for row in rows]

    def _one(self, row: dict[str, Any], opportunities: dict[str, dict[str, Any]]) -> RemoteRecord:
        return M.remote_record(
            row,
            opportunities.get(str(row.get("ConvertedOpportunityId") or "")),
            key_field=self.key_field,
            custom_keys=self._custom_keys,
            currency=str(self.settings.get("currency") or ""),
        )

    # -- events --------------------------------------------------------------------------

    def parse_event(self, body: bytes, content_type: str) -> list[str]:
        return webhooks.parse_outbound_message(
            body, content_type, org_id=str(self.settings.get("org_id") or "")
        )

    def subscribe_events(self, destination: str) -> bool:
        return False  # polled; outbound messages need an admin's flow in the org


# -- helpers -------------------------------------------------------------------------------


class _Matcher:
    """Existing Leads by our key, e-mail and phone digits, for one chunk."""

    def __init__(self, rows: list[dict[str, Any]], key_field: str) -> None:
        self.key_field = key_field
        self.by_key: dict[str, dict[str, Any]] = {}
        self.by_email: dict[str, list[dict[str, Any]]] = {}
        self.by_phone: dict[str, list[dict[str, Any]]] = {}
        self.pending: dict[int, PushResult] = {}
        # Oldest first, so that of several candidates the original record wins.
        for row in sorted(rows, key=lambda r: str(r.get("SystemModstamp") or "")):
            if key_field and row.get(key_field):
                self.by_key.setdefault(str(row[key_field]).strip().lower(), row)
            if row.get("Email"):
                self.by_email.setdefault(str(row["Email"]).strip().lower(), []).append(row)
            if M.digits(str(row.get("Phone") or "")):
                self.by_phone.setdefault(M.digits(str(row["Phone"])), []).append(row)

    def find(self, record: CrmRecord) -> dict[str, Any] | None:
        if self.key_field and (row := self.by_key.get(record.key.strip().lower())):
            return row
        email = record.values.get("email", record.email).strip().lower()
        phone = M.digits(record.values.get("phone", record.phone))
        for candidates in (self.by_email.get(email) or [], self.by_phone.get(phone) or []):
            if candidates:
                # Prefer a Lead no other PRM lead has claimed yet.
                free = [r for r in candidates if not (r.get(self.key_field) or "")]
                return (free or candidates)[0]
        return None


def _ok(record: CrmRecord, row: dict[str, Any], *, matched: bool) -> PushResult:
    return PushResult(
        key=record.key,
        ok=True,
        crm_id=str(row["Id"]),
        crm_contact_id=str(row.get("ConvertedContactId") or ""),
        matched=matched,
    )


def _failed(record: CrmRecord, kind: str, error: str) -> PushResult:
    return PushResult(key=record.key, ok=False, error_kind=kind, error=error[:2000])


def _unique_rounds(
    items: list[tuple[int, dict[str, Any]]],
) -> list[list[tuple[int, dict[str, Any]]]]:
    """Salesforce refuses one id twice in a request: two inputs matched to the same
    Lead are written in separate requests (rare: two PRM leads, one CRM person)."""
    rounds: list[list[tuple[int, dict[str, Any]]]] = []
    for item in items:
        for part in rounds:
            if all(body["id"] != item[1]["id"] for _, body in part):
                part.append(item)
                break
        else:
            rounds.append([item])
    return rounds


def _where(groups: dict[str, list[str]]) -> str:
    return " OR ".join(M.soql_in(field, values) for field, values in groups.items())


def _floor(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def _parse_cursor(cursor: str) -> tuple[datetime | None, str, datetime | None]:
    lead_at, _, rest = (cursor or "").partition("|")
    lead_id, _, opp_at = rest.partition("|")
    return M.parse_datetime(lead_at), lead_id, M.parse_datetime(opp_at)


def _format_cursor(lead_at: datetime | None, lead_id: str, opp_at: datetime | None) -> str:
    if lead_at is None:
        return ""
    opp = opp_at.isoformat() if opp_at else ""
    return f"{lead_at.isoformat()}|{lead_id}|{opp}"


CONNECTOR = SalesforceConnector
