"""The amoCRM connector: PRM leads become amo leads with a main contact.

Creating: ``POST /api/v4/leads/complex``, 50 leads per request, each with its new
contact and company in the same request (one call instead of three, and amo links them
itself). A lead whose contact already exists (matched by e-mail/phone) is created with
``_embedded.contacts[{id}]`` in the same request.

Matching before creating, in this order: our lead id (the "PRM lead id" custom field),
then the contact's e-mail, then its phone (digits only); a contact found that way lends
us its first lead that carries no other PRM lead id, else a new lead is made for it.
amo has no bulk search, so:
- up to ``QUERY_MAX`` unmatched records: ``query=`` per record (1-3 requests each);
- more: once per connector, the whole account is listed (250 per page: leads with
  their contacts, then contacts) into an index that our own creates keep current.
  ``QUERY_MAX`` = 25 because 25 records cost at most ~75 queries, which is what the
  index costs for an account of ~9,000 leads.
A create that timed out may have happened: the index is dropped, so the next push
finds it by our id first and does not create it twice.

Updating (a known ``crm_id`` or a match): current state is read 250 at a time, and only
what differs is sent (``PATCH /api/v4/leads`` / ``contacts`` / ``companies``, 50 per
request); CRM-mastered keys (``create_only``) only over empty CRM values; the deal's
name only when empty; notes are appended, never rewritten.

amo refuses a whole write request when one item is invalid (400 with
``validation-errors`` by ``request_id``): those items become "validation" results and
the rest of the batch is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.db import connections as db_connections

from integrations.crm.amocrm import mapping as M
from integrations.crm.amocrm import webhooks
from integrations.crm.amocrm.client import PAGE, AmoClient, AmoValidationError
from integrations.crm.base import (
    Connector,
    CrmError,
    CrmField,
    CrmRecord,
    CrmRetryable,
    CrmStage,
    CrmValidationError,
    PushResult,
    RemoteRecord,
)

QUERY_MAX = 25  # unmatched records matched by query=; more build the account index
WRITE_BATCH = 50
# Requests in flight at once. The throttle, not the answers, paces the sends: with one
# request at a time, an answer slower than 1/7 s would leave the window's slots unused.
PIPELINE = 3


@dataclass
class _Index:
    """What the account holds, for matching without a bulk search."""

    by_key: dict[str, str] = field(default_factory=dict)  # our lead id -> lead id
    lead_key: dict[str, str] = field(default_factory=dict)  # lead id -> our lead id
    contact_leads: dict[str, list[str]] = field(default_factory=dict)
    by_email: dict[str, str] = field(default_factory=dict)  # -> contact id
    by_phone: dict[str, str] = field(default_factory=dict)  # digits -> contact id

    def add_lead(self, lead_id: str, key: str, contact_id: str) -> None:
        if key:
            self.by_key.setdefault(key, lead_id)
            self.lead_key[lead_id] = key
        if contact_id:
            self.contact_leads.setdefault(contact_id, []).append(lead_id)

    def add_contact(self, contact_id: str, emails: Iterable[str], phones: Iterable[str]) -> None:
        for email in emails:
            self.by_email.setdefault(email, contact_id)
        for phone in phones:
            self.by_phone.setdefault(phone, contact_id)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[n : n + size] for n in range(0, len(items), size)]


def _failed(record: CrmRecord, kind: str, error: str) -> PushResult:
    return PushResult(key=record.key, ok=False, error_kind=kind, error=error[:500])


def _own_thread(call: Callable[[], Any]) -> Any:
    """Run ``call`` on a pipeline thread. A token refresh there saves the new pair on
    that thread's own database connection (Credentials.save): closed when done."""
    try:
        return call()
    finally:
        db_connections.close_all()


class AmoConnector(Connector):
    provider = "amocrm"
    batch_size = WRITE_BATCH

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = AmoClient(
            base_url=self.base_url,
            auth_kind=self.auth_kind,
            credentials=self.credentials,
            throttle_key=self.throttle_key,
            stats=self.stats,
        )
        self._meta: dict[int, dict[str, Any]] | None = None
        self._key_field: int | None = None
        self._index: _Index | None = None

    def close(self) -> None:
        self.client.close()

    @property
    def currency(self) -> str:
        return str(self.settings.get("currency") or "RUB")

    # ---------------------------------------------------------------- connection

    def test_connection(self) -> str:
        account = self.client.get("/api/v4/account") or {}
        if not account.get("id"):
            raise CrmError("amoCRM answered without an account")
        self.settings["account_id"] = str(account["id"])
        self.settings["subdomain"] = str(account.get("subdomain") or "")
        self.settings.setdefault("currency", str(account.get("currency") or "RUB"))
        return f"{account.get('name') or account['subdomain']} ({account.get('subdomain')})"

    def _fields(self) -> dict[int, dict[str, Any]]:
        if self._meta is None:
            meta: dict[int, dict[str, Any]] = {}
            for page in self.client.pages("/api/v4/leads/custom_fields", "custom_fields"):
                meta.update({int(f["id"]): f for f in page})
            label = M.LEAD_ID_LABEL.lower()
            self._key_field = next(
                (i for i, f in meta.items() if str(f.get("name", "")).strip().lower() == label),
                None,
            )
            self._meta = meta
        return self._meta

    def list_fields(self) -> list[CrmField]:
        custom = [CrmField(M.cf_key(i), str(f.get("name", i))) for i, f in self._fields().items()]
        return [*M.STANDARD_FIELDS, *custom]

    def list_stages(self) -> list[CrmStage]:
        body = self.client.get("/api/v4/leads/pipelines") or {}
        stages = []
        for pipeline in (body.get("_embedded") or {}).get("pipelines") or []:
            for status in (pipeline.get("_embedded") or {}).get("statuses") or []:
                stages.append(
                    CrmStage(
                        pipeline_id=str(pipeline["id"]),
                        pipeline_name=str(pipeline.get("name", "")),
                        stage_id=str(status["id"]),
                        stage_name=str(status.get("name", "")),
                        semantic=M.semantic_of(status["id"]),
                    )
                )
        return stages

    # ---------------------------------------------------------------- reading

    def _by_ids(self, path: str, embedded: str, ids: Iterable[str], extra=()) -> list[dict]:  # type: ignore[no-untyped-def]
        parts = self._parallel(self._by_ids_calls(path, embedded, ids, extra))
        return [row for part in parts for row in part]

    def _by_ids_calls(
        self,
        path: str,
        embedded: str,
        ids: Iterable[str],
        extra: Iterable[tuple[str, Any]] = (),
        key: str = "filter[id][]",
    ) -> list[Callable[[], list[dict]]]:
        """One call per 250 ids (one request each), to run side by side."""

        def read(chunk: list[str]) -> list[dict]:
            params = [*extra, *((key, i) for i in chunk)]
            return [row for page in self.client.pages(path, embedded, params) for row in page]

        return [lambda c=chunk: read(c) for chunk in _chunks(sorted(set(ids) - {""}), PAGE)]

    def _parallel(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Results of ``calls`` in order, at most PIPELINE running at once; the first
        error is raised once the others have ended."""
        if len(calls) <= 1:
            return [call() for call in calls]
        out: list[Any] = [None] * len(calls)
        with ThreadPoolExecutor(PIPELINE, thread_name_prefix="amo") as pool:
            futures = [pool.submit(_own_thread, call) for call in calls]
        for n, future in enumerate(futures):
            out[n] = future.result()
        return out

    def _states(self, leads: list[dict], notes: bool = True) -> dict[str, M.LeadState]:
        """Leads with their main contact, company and common notes (3 more lists)."""
        contact_ids = {M.main_contact_id(lead) for lead in leads}
        company_ids = {M.company_id(lead) for lead in leads}
        # Contacts, companies and notes are read side by side (one request per 250).
        kinds = [
            ("contacts", self._by_ids_calls("/api/v4/contacts", "contacts", contact_ids)),
            ("companies", self._by_ids_calls("/api/v4/companies", "companies", company_ids)),
        ]
        if notes and leads:
            note_calls = self._by_ids_calls(
                "/api/v4/leads/notes",
                "notes",
                [str(lead["id"]) for lead in leads],
                [("filter[note_type]", "common")],
                key="filter[entity_id][]",
            )
            kinds.append(("notes", note_calls))
        answers = iter(self._parallel([call for _, calls in kinds for call in calls]))
        read = {kind: [row for _ in calls for row in next(answers)] for kind, calls in kinds}
        contacts = {str(c["id"]): c for c in read["contacts"]}
        companies = {str(c["id"]): c for c in read["companies"]}
        texts: dict[str, list[tuple[int, str]]] = {}
        for note in read.get("notes", []):
            text = str((note.get("params") or {}).get("text") or "")
            texts.setdefault(str(note["entity_id"]), []).append((int(note["id"]), text))
        return {
            str(lead["id"]): M.LeadState(
                lead=lead,
                contact=contacts.get(M.main_contact_id(lead)),
                company=companies.get(M.company_id(lead)),
                notes=[t for _, t in sorted(texts.get(str(lead["id"]), []))],
            )
            for lead in leads
        }

    def _read(self, ids: Iterable[str], notes: bool = True) -> dict[str, M.LeadState]:
        leads = self._by_ids("/api/v4/leads", "leads", ids, [("with", "contacts")])
        return self._states(leads, notes)

    def _remote(self, state: M.LeadState) -> RemoteRecord:
        return M.remote_record(state, self._fields(), self._key_field, self.currency)

    def fetch(self, crm_ids: list[str]) -> list[RemoteRecord]:
        """The leads asked for (missing ones deleted), and for each ``contact:<id>`` (a
        contact event) the leads of that contact: its name, e-mail and phone are theirs."""
        self._fields()
        ids = [str(i) for i in crm_ids]
        contacts = [i[len(webhooks.CONTACT) :] for i in ids if i.startswith(webhooks.CONTACT)]
        lead_ids = [i for i in ids if not i.startswith(webhooks.CONTACT)]
        asked = set(lead_ids)
        theirs = [i for i in self._leads_of_contacts(contacts)[0] if i not in asked]
        states = self._read([*lead_ids, *theirs])
        return [
            self._remote(states[i]) if i in states else M.deleted_record(i) for i in lead_ids
        ] + [self._remote(states[i]) for i in theirs if i in states]

    def _leads_of_contacts(
        self, contact_ids: list[str], since: int = 0, until: str = ""
    ) -> tuple[list[str], int]:
        """(ids of the leads of these contacts, the latest contact ``updated_at``); with
        no ids, of every contact changed at or after ``since`` (none when 0) and, when
        given, at or before ``until``."""
        if contact_ids:
            contacts = self._by_ids(
                "/api/v4/contacts", "contacts", contact_ids, [("with", "leads")]
            )
        elif since:
            params: list[tuple[str, Any]] = [("with", "leads"), ("filter[updated_at][from]", since)]
            if until:
                params.append(("filter[updated_at][to]", until))
            pages = self.client.pages("/api/v4/contacts", "contacts", params)
            contacts = [c for page in pages for c in page]
        else:
            return [], 0
        ids = [
            str(lead["id"])
            for c in contacts
            for lead in (c.get("_embedded") or {}).get("leads") or []
        ]
        latest = max((int(c.get("updated_at") or 0) for c in contacts), default=0)
        return list(dict.fromkeys(ids)), latest

    def changes_since(self, cursor: str) -> tuple[list[RemoteRecord], str]:
        records, cursor, _ = self.changes_page(cursor, 0)
        return records, cursor

    def changes_page(self, cursor: str, limit: int) -> tuple[list[RemoteRecord], str, bool]:
        """Leads updated at or after the cursor (unix seconds; amo filters by whole
        seconds, so the last second is read again next time rather than risk missing a
        change made within it), then the leads of contacts updated in the same span (a
        contact's edit does not touch its leads' ``updated_at``), then the deleted ones.
        With ``limit``, whole pages up to it, ending past the cursor's second (so the
        next slice moves on)."""
        self._fields()
        since = int(cursor) if cursor.isdigit() else 0
        params: list[tuple[str, Any]] = [("with", "contacts"), ("order[updated_at]", "asc")]
        if since:
            params.append(("filter[updated_at][from]", since))
        leads: list[dict] = []
        more = False
        for page in self.client.pages("/api/v4/leads", "leads", params):
            leads += page
            if limit and len(leads) >= limit and int(leads[-1].get("updated_at") or 0) > since:
                more = True  # perhaps: the next slice finds out
                break
        # A slice goes on from its last live lead; the deleted ones are listed from the
        # same ``since`` in every slice (a few, and seeing one twice changes nothing).
        stop = str(int(leads[-1].get("updated_at") or since)) if more else ""
        # From the start every lead is read anyway; after it, a contact changed since
        # the cursor (up to where this slice stops) brings its leads.
        have = {str(lead["id"]) for lead in leads}
        of_contacts, contacts_latest = self._leads_of_contacts([], since, stop)
        more_leads = [i for i in of_contacts if i not in have]
        touched = self._by_ids("/api/v4/leads", "leads", more_leads, [("with", "contacts")])
        out = [self._remote(s) for s in self._states(leads + touched).values()]
        gone = [("with", "only_deleted"), *params[1:]]
        for page in self.client.pages("/api/v4/leads", "leads", gone):
            for lead in page:
                leads.append(lead)
                out.append(M.deleted_record(str(lead["id"])))
        if stop:
            return out, stop, True
        latest = max((int(lead.get("updated_at") or 0) for lead in leads), default=since)
        latest = max(latest, contacts_latest)
        return out, str(max(latest, since)) if (latest or since) else cursor, False

    # ---------------------------------------------------------------- events

    def parse_event(self, body: bytes, content_type: str) -> list[str]:
        form = webhooks.parse(body, content_type)
        webhooks.verify(form, self.settings)
        return webhooks.lead_ids(form)

    def event_versions(self, body: bytes, content_type: str) -> dict[str, str]:
        return webhooks.lead_versions(webhooks.parse(body, content_type))

    @staticmethod
    def is_echo(written: str, reported: str | None) -> bool:
        """The echo of a lead we created is its ``add`` event (a lead is added once);
        of our PATCH, an ``update`` event reporting the update time it was answered
        with (amo has whole seconds: a person's edit within that second is taken for
        ours, and reconciliation, which reads that second again, brings it in). A
        ``status`` event is always read: a stage a person moves matters at once."""
        action, _, updated = (reported or "").partition(":")
        if written == "new":
            return action == "add"
        return bool(written) and action == "update" and updated == written

    def subscribe_events(self, destination: str) -> bool:
        return webhooks.subscribe(self.client, destination)

    # ---------------------------------------------------------------- matching

    def _build_index(self) -> _Index:
        index = _Index()
        key_field = self._key_field
        for page in self.client.pages("/api/v4/leads", "leads", [("with", "contacts")]):
            for lead in page:
                key = M.cf_text(lead, key_field) if key_field else ""
                index.add_lead(str(lead["id"]), key, M.main_contact_id(lead))
        for page in self.client.pages("/api/v4/contacts", "contacts"):
            for c in page:
                index.add_contact(str(c["id"]), M.contact_emails(c), M.contact_phones(c))
        return index

    def _query_index(self, record: CrmRecord) -> _Index:
        """A small index of just what ``query=`` finds for this record."""
        index = _Index()
        if self._key_field:
            for lead in self._first_page(
                "/api/v4/leads", "leads", record.key, [("with", "contacts")]
            ):
                key = M.cf_text(lead, self._key_field)
                index.add_lead(str(lead["id"]), key, M.main_contact_id(lead))
        if record.key in index.by_key:
            return index
        wanted = M.contact_fields(record)
        for term in (wanted.get("email", ""), M.digits(wanted.get("phone", ""))):
            if not term:
                continue
            contacts = self._first_page("/api/v4/contacts", "contacts", term, [("with", "leads")])
            for c in contacts:
                index.add_contact(str(c["id"]), M.contact_emails(c), M.contact_phones(c))
            owner = self._contact_of(index, record)
            if owner:
                owner_c = next(c for c in contacts if str(c["id"]) == owner)
                lead_ids = [
                    str(x["id"]) for x in (owner_c.get("_embedded") or {}).get("leads") or []
                ]
                for lead in self._by_ids(
                    "/api/v4/leads", "leads", lead_ids, [("with", "contacts")]
                ):
                    key = M.cf_text(lead, self._key_field) if self._key_field else ""
                    index.add_lead(str(lead["id"]), key, owner)
                return index
        return index

    def _first_page(self, path: str, embedded: str, term: str, extra: list) -> list[dict]:  # type: ignore[type-arg]
        body = self.client.get(path, [("query", term), ("limit", 50), *extra])
        return ((body or {}).get("_embedded") or {}).get(embedded) or []

    @staticmethod
    def _contact_of(index: _Index, record: CrmRecord) -> str:
        wanted = M.contact_fields(record)
        email = M.norm_email(wanted.get("email", ""))
        phone = M.digits(wanted.get("phone", ""))
        return (email and index.by_email.get(email)) or (phone and index.by_phone.get(phone)) or ""

    @staticmethod
    def _match(index: _Index, record: CrmRecord) -> tuple[str, str]:
        """(lead id, contact id) found for the record; either may be ""."""
        if record.key in index.by_key:
            return index.by_key[record.key], ""
        contact = AmoConnector._contact_of(index, record)
        for lead_id in index.contact_leads.get(contact, []) if contact else []:
            if index.lead_key.get(lead_id, "") in ("", record.key):
                return lead_id, contact
        return "", contact

    def _plan(
        self, records: list[CrmRecord]
    ) -> tuple[list[tuple[int, str, bool]], list[tuple[int, str]]]:
        """(updates as (index, lead id, matched), creates as (index, contact id))."""
        updates: list[tuple[int, str, bool]] = []
        creates: list[tuple[int, str]] = []
        unmatched = [i for i, r in enumerate(records) if not r.crm_id]
        for i, r in enumerate(records):
            if r.crm_id:
                updates.append((i, r.crm_id, False))
        if self._index is None and len(unmatched) > QUERY_MAX:
            self._index = self._build_index()
        claimed: set[str] = set()
        for i in unmatched:
            index = self._index or self._query_index(records[i])
            lead_id, contact_id = self._match(index, records[i])
            by_key = index.lead_key.get(lead_id) == records[i].key
            if lead_id and (by_key or lead_id not in claimed):
                claimed.add(lead_id)  # one contact's lead serves one PRM lead only
                updates.append((i, lead_id, True))
            else:
                creates.append((i, contact_id))
        return updates, creates

    # ---------------------------------------------------------------- pushing

    def push(self, records: list[CrmRecord]) -> list[PushResult]:
        results: list[PushResult | None] = [None] * len(records)
        try:
            self._fields()
            updates, creates = self._plan(records)
        except CrmRetryable as exc:
            failed = [_failed(r, "retryable", str(exc)) for r in records]
            for result in failed:
                result.retry_after = getattr(exc, "retry_after", 0.0)
            return failed
        # Current state of every lead to update, read 250 at a time before writing.
        states: dict[str, M.LeadState] = {}
        steps: list[tuple[str, list[Any]]] = [("update", c) for c in _chunks(updates, WRITE_BATCH)]
        steps += [("create", c) for c in _chunks(creates, WRITE_BATCH)]
        if updates:
            try:
                notes = any(records[i].values.get("notes") for i, _, _ in updates)
                states = self._read([lead_id for _, lead_id, _ in updates], notes=notes)
            except CrmRetryable as exc:
                # The read carried the updates; the creates were never sent.
                self._stop(records, updates, results, exc)
                self._stop(records, creates, results, exc, sent=False)
                steps = []
            except CrmValidationError:
                pass  # each update then says its lead was not found
        self._send_steps(records, steps, states, results)
        return [r or _failed(records[i], "retryable", "not sent") for i, r in enumerate(results)]

    def _stop(
        self,
        records: list[CrmRecord],
        items: list[Any],
        results: list[Any],
        exc: CrmError,
        *,
        sent: bool = True,
    ) -> None:
        """A request failed for a reason that may pass: these items go back to the outbox
        (and a write may have happened: the index is read again next time). ``sent``:
        a request carrying them went out (their attempt counts)."""
        self._index = None
        for item in items:
            if results[item[0]] is None:
                results[item[0]] = _failed(records[item[0]], "retryable", str(exc))
                results[item[0]].retry_after = getattr(exc, "retry_after", 0.0)
                results[item[0]].sent = sent

    def _send_steps(
        self,
        records: list[CrmRecord],
        steps: list[tuple[str, list[Any]]],
        states: dict[str, M.LeadState],
        results: list[Any],
    ) -> None:
        """The write batches, PIPELINE at a time: the next request is sent when the
        throttle's window allows, not when the previous answer is back. After a retryable
        failure no new batch starts (those in flight finish); a refused batch (validation)
        fails its own records only; anything else is raised once the others ended."""

        def run(kind: str, chunk: list[Any]) -> None:
            if kind == "update":
                self._update_chunk(records, chunk, states, results)
            else:
                self._create_chunk(records, chunk, results)

        waiting = list(steps)
        flying: dict[Future, list[Any]] = {}
        stopped: CrmError | None = None
        fatal: BaseException | None = None
        with ThreadPoolExecutor(PIPELINE, thread_name_prefix="amo-push") as pool:
            while waiting or flying:
                while waiting and len(flying) < PIPELINE and stopped is None and fatal is None:
                    kind, chunk = waiting.pop(0)
                    flying[pool.submit(_own_thread, lambda k=kind, c=chunk: run(k, c))] = chunk
                if not flying:
                    break
                done, _ = wait(flying, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = flying.pop(future)
                    try:
                        future.result()
                    except CrmRetryable as exc:
                        stopped = stopped or exc
                        self._stop(records, chunk, results, exc)
                    except CrmValidationError as exc:
                        for item in chunk:
                            if results[item[0]] is None:
                                results[item[0]] = _failed(records[item[0]], "validation", str(exc))
                    except BaseException as exc:  # CrmAuthError, or a bug: raised below
                        fatal = fatal or exc
        if fatal is not None:
            raise fatal
        if stopped is not None:
            never = [item for _, chunk in waiting for item in chunk]
            self._stop(records, never, results, stopped, sent=False)

    def _write(
        self, method: str, path: str, items: list[dict[str, Any]]
    ) -> tuple[Any, dict[str, str]]:
        """Send a batch; items amo refuses by request_id are dropped and the rest sent
        again. Returns (answer of the last request, {request_id: error})."""
        refused: dict[str, str] = {}
        while items:
            try:
                return self.client.request(
                    method, path, json=items, idempotent=method == "PATCH"
                ), refused
            except AmoValidationError as exc:
                ids = {str(it["request_id"]) for it in items}
                bad = {k: v for k, v in exc.by_request.items() if k in ids}
                if not bad:
                    raise
                refused.update(bad)
                items = [it for it in items if str(it["request_id"]) not in bad]
        return None, refused

    def _create_chunk(
        self, records: list[CrmRecord], chunk: list[tuple[int, str]], results: list[Any]
    ) -> None:
        meta, key_field = self._fields(), self._key_field
        items = []
        for i, contact_id in chunk:
            item = M.complex_item(records[i], str(i), meta, key_field, contact_id)
            if not records[i].stage and self.settings.get("pipeline_id"):
                item["pipeline_id"] = int(self.settings["pipeline_id"])
            items.append(item)
        body, refused = self._write("POST", "/api/v4/leads/complex", items)
        for request_id, error in refused.items():
            results[int(request_id)] = _failed(records[int(request_id)], "validation", error)
        created: dict[int, tuple[str, str]] = {}
        for row in body or []:
            for request_id in row.get("request_id") or []:
                created[int(request_id)] = (str(row["id"]), str(row.get("contact_id") or ""))
        matched_contact = dict(chunk)
        index = self._index  # another batch in flight may drop it meanwhile
        for i, (lead_id, contact_id) in created.items():
            contact_id = contact_id or matched_contact.get(i, "")
            if index is not None:
                index.add_lead(lead_id, records[i].key, contact_id)
                wanted = M.contact_fields(records[i])
                if contact_id:
                    email, phone = (
                        M.norm_email(wanted.get("email", "")),
                        M.digits(wanted.get("phone", "")),
                    )
                    index.add_contact(
                        contact_id, [email] if email else [], [phone] if phone else []
                    )
        notes = [
            M.note_item(created[i][0], records[i].values["notes"])
            for i in created
            if records[i].values.get("notes", "").strip()
        ]
        if notes:
            self._post_notes(notes)
        for i, contact_id in chunk:
            if i in created:
                lead_id, new_contact = created[i]
                results[i] = PushResult(
                    key=records[i].key,
                    ok=True,
                    crm_id=lead_id,
                    crm_contact_id=new_contact or contact_id,
                    echo="new",
                )
            elif results[i] is None:
                results[i] = _failed(records[i], "retryable", "amoCRM did not return the lead")

    def _post_notes(self, notes: list[dict[str, Any]]) -> None:
        for chunk in _chunks(notes, WRITE_BATCH):
            self.client.request("POST", "/api/v4/leads/notes", json=chunk)

    def _update_chunk(
        self,
        records: list[CrmRecord],
        chunk: list[tuple[int, str, bool]],
        states: dict[str, M.LeadState],
        results: list[Any],
    ) -> None:
        meta, key_field = self._fields(), self._key_field
        leads, contacts, new_contacts, companies, new_companies, notes = [], [], [], [], [], []
        ok: dict[int, tuple[str, str, bool]] = {}
        for i, lead_id, matched in chunk:
            record, state = records[i], states.get(str(lead_id))
            if state is None:
                results[i] = _failed(
                    record, "validation", f"amoCRM lead {lead_id} not found (deleted?)"
                )
                continue
            rid = str(i)
            if patch := M.lead_patch(record, state, meta, key_field):
                leads.append({"id": int(lead_id), "request_id": rid, **patch})
            contact_id = M.main_contact_id(state.lead)
            if state.contact is not None:
                if patch := M.contact_patch(record, state.contact):
                    contacts.append({"id": int(contact_id), "request_id": rid, **patch})
            elif body := M.contact_body(M.contact_fields(record)):
                new_contacts.append((lead_id, {"request_id": rid, **body}))
            if name := M.company_name_wanted(record, state):
                if state.company is not None:
                    companies.append(
                        {"id": int(state.company["id"]), "request_id": rid, "name": name}
                    )
                else:
                    new_companies.append((lead_id, {"request_id": rid, "name": name}))
            if text := M.notes_to_add(record.values.get("notes", ""), state.notes):
                notes.append(M.note_item(lead_id, text))
            ok[i] = (str(lead_id), contact_id, matched)
        refused: dict[str, str] = {}
        stamps: dict[str, str] = {}  # request_id -> the lead's updated_at after our PATCH
        for path, items in (
            ("/api/v4/leads", leads),
            ("/api/v4/contacts", contacts),
            ("/api/v4/companies", companies),
        ):
            if items:
                answer, bad = self._write("PATCH", path, items)
                refused.update(bad)
                if path == "/api/v4/leads":
                    for row in ((answer or {}).get("_embedded") or {}).get("leads") or []:
                        stamps[str(row.get("request_id"))] = str(row.get("updated_at") or "")
        created_contacts = self._create_linked("contacts", new_contacts, refused)
        self._create_linked("companies", new_companies, refused)
        if notes:
            self._post_notes(notes)
        for i, (lead_id, contact_id, matched) in ok.items():
            if str(i) in refused:
                results[i] = _failed(records[i], "validation", refused[str(i)])
            else:
                contact_id = contact_id or created_contacts.get(str(i), "")
                results[i] = PushResult(
                    key=records[i].key,
                    ok=True,
                    crm_id=lead_id,
                    crm_contact_id=contact_id,
                    matched=matched,
                    echo=stamps.get(str(i), ""),
                )

    def _create_linked(
        self, entity: str, items: list[tuple[str, dict[str, Any]]], refused: dict[str, str]
    ) -> dict[str, str]:
        """Create contacts/companies for existing leads and link them: {request_id: id}."""
        if not items:
            return {}
        lead_of = {body["request_id"]: lead_id for lead_id, body in items}
        answer, bad = self._write("POST", f"/api/v4/{entity}", [body for _, body in items])
        refused.update(bad)
        made = {
            str(row["request_id"]): str(row["id"])
            for row in ((answer or {}).get("_embedded") or {}).get(entity) or []
        }
        links = [
            {"entity_id": int(lead_of[rid]), "to_entity_id": int(new_id), "to_entity_type": entity}
            for rid, new_id in made.items()
        ]
        if links:
            self.client.request("POST", "/api/v4/leads/link", json=links, idempotent=True)
        return made


CONNECTOR = AmoConnector
