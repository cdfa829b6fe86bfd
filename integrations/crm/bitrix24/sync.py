"""The Bitrix24 connector: match-or-create in batches, read back, events.

A push of N records costs about N/50 write requests (N/25 for deals) plus one
matching request per 400 records: a single ``batch`` carries the ``crm.*.list``
lookups by our key (``@ORIGIN_ID``) and up to 20 e-mails or phones per
``crm.duplicate.findbycomm`` command. Only when those find someone by e-mail/phone does
a second request read the found rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from integrations.crm.base import (
    Connector,
    CrmAuthError,
    CrmField,
    CrmRecord,
    CrmRetryable,
    CrmStage,
    CrmValidationError,
    PushResult,
    RemoteRecord,
)
from integrations.crm.bitrix24 import mapping as M
from integrations.crm.bitrix24 import webhooks
from integrations.crm.bitrix24.client import PAGE, BitrixClient, command_error, origin

MATCH_CHUNK = 400  # records matched per lookup request (8 key + 40 comm commands)
COMM_VALUES = 20  # values per crm.duplicate.findbycomm
PAGES_PER_POLL = 45  # list pages of 50 fetched in one batch while polling
LEAD_DEALS_CHUNK = 25  # leads per crm.deal.list by LEAD_ID (room for two deals each)
DEAL_CURSOR = ";deal="  # separates a lead connection's lead and deal poll cursors


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Plan:
    """What to do with one record: update ``row`` (None = create), for deals also the
    contact, or refuse with ``error``."""

    row: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    deal: dict[str, Any] | None = None  # a converted lead's deal, when its stage moves
    matched: bool = False
    error: str = ""


class BitrixConnector(Connector):
    provider = "bitrix24"
    batch_size = 50  # 25 when pushing deals (a contact and a deal command each)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entity = "deal" if self.settings.get("entity") == "deal" else "lead"
        self.category_id = int(self.settings.get("category_id") or 0)
        self.currency = str(self.settings.get("currency") or "RUB")
        if self.entity == "deal":
            self.batch_size = 25  # type: ignore[misc]
        else:
            # Lead statuses are where a lead's status goes unless it was converted (then
            # its deal's stages): the stage rules' default pipeline (stored by the test).
            self.settings.setdefault("pipeline_id", M.LEAD_PIPELINE)
        self.client = BitrixClient(
            base_url=self.base_url,
            auth_url=self.auth_url,
            auth_kind=self.auth_kind,
            credentials=self.credentials,
            stats=self.stats,
            throttle_key=self.throttle_key,
        )

    @property
    def select(self) -> list[str]:
        return M.LEAD_SELECT if self.entity == "lead" else M.DEAL_SELECT

    def _list(self, filter: dict[str, Any], **extra: Any) -> tuple[str, dict[str, Any]]:
        return f"crm.{self.entity}.list", {"filter": filter, "select": self.select, **extra}

    # ------------------------------------------------------------ connection

    def test_connection(self) -> str:
        profile = self.client.call("profile").get("result") or {}
        who = M.full_name(profile) if isinstance(profile, dict) else ""
        portal = origin(self.base_url or self.client.root).split("://", 1)[-1]
        return f"{portal} ({who})" if who else portal

    def list_fields(self) -> list[CrmField]:
        meta = self.client.call(f"crm.{self.entity}.fields").get("result")
        return M.standard_fields(self.entity) + M.custom_fields(
            meta if isinstance(meta, dict) else {}
        )

    def list_stages(self) -> list[CrmStage]:
        if self.entity == "lead":
            # A converted lead's outcome is its deal's (default funnel) stage.
            lists = [
                ("STATUS", M.LEAD_PIPELINE, "Leads"),
                ("DEAL_STAGE", "DEAL:0", "Deals from converted leads"),
            ]
        else:
            cid = self.category_id
            status_entity = f"DEAL_STAGE_{cid}" if cid else "DEAL_STAGE"
            lists = [(status_entity, str(cid), "Deals" if not cid else f"Deals (funnel {cid})")]
        stages = []
        for status_entity, pipeline, name in lists:
            rows = self.client.list_all(
                "crm.status.list",
                {"filter": {"ENTITY_ID": status_entity}, "order": {"SORT": "ASC"}},
            )
            stages += [
                CrmStage(
                    pipeline,
                    name,
                    str(r.get("STATUS_ID")),
                    str(r.get("NAME") or ""),
                    M.stage_semantic(r),
                )
                for r in rows
            ]
        return stages

    # ------------------------------------------------------------ PRM -> CRM

    def push(self, records: list[CrmRecord]) -> list[PushResult]:
        out: list[PushResult | None] = [None] * len(records)
        stopped = ""  # why the rest was not sent (a retryable failure)
        wait = 0.0  # how long the CRM asked us to wait, if it refused for rate
        tried: set[int] = set()  # records of the request that failed (the rest: unsent)
        positions = list(range(len(records)))
        for part in _chunks(positions, MATCH_CHUNK):
            if stopped:
                break
            try:
                plans = self._plan([records[p] for p in part])
            except CrmValidationError as exc:
                for p in part:
                    out[p] = self._failed(records[p], "validation", str(exc))
                continue
            except CrmRetryable as exc:
                stopped, wait, tried = str(exc), getattr(exc, "retry_after", 0.0), set(part)
                break
            for chunk in _chunks(list(zip(part, plans, strict=True)), self.batch_size):
                try:
                    self._write([(p, records[p], plan) for p, plan in chunk], out)
                except CrmAuthError:
                    raise
                except CrmRetryable as exc:
                    # This chunk and the rest: the next run matches first.
                    stopped, wait = str(exc), getattr(exc, "retry_after", 0.0)
                    tried = {p for p, _ in chunk}
                    break
                except CrmValidationError as exc:
                    for p, _ in chunk:
                        out[p] = self._failed(records[p], "validation", str(exc))
        results = [
            r or self._failed(records[n], "retryable", stopped or "not sent")
            for n, r in enumerate(out)
        ]
        for n, r in enumerate(out):
            if r is None:
                results[n].retry_after = wait
                results[n].sent = not stopped or n in tried
        return results

    @staticmethod
    def _failed(record: CrmRecord, kind: str, error: str) -> PushResult:
        return PushResult(key=record.key, ok=False, error_kind=kind, error=error[:500])

    def _plan(self, records: list[CrmRecord]) -> list[_Plan]:
        """Find each record's CRM counterpart: by crm_id, then our key, then e-mail,
        then phone, all in one lookup request (two if e-mail/phone found someone)."""
        lead = self.entity == "lead"
        ids = [r.crm_id for r in records if r.crm_id.isdigit()]
        fresh = [r for r in records if not r.crm_id]
        emails = sorted({r.email.strip().lower() for r in fresh if r.email.strip()})
        phones = sorted({r.phone.strip() for r in fresh if M.phone_digits(r.phone)})
        comm_entity = "LEAD" if lead else "CONTACT"
        cmds: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, part in enumerate(_chunks(ids, PAGE)):
            cmds[f"id{n}"] = self._list({"@ID": part}, start=-1)
        for n, part in enumerate(_chunks([r.key for r in fresh], PAGE)):
            cmds[f"key{n}"] = self._list(
                {"ORIGINATOR_ID": M.ORIGINATOR, "@ORIGIN_ID": part}, start=-1
            )
        for kind, values in (("EMAIL", emails), ("PHONE", phones)):
            for n, part in enumerate(_chunks(values, COMM_VALUES)):
                cmds[f"{kind[:2].lower()}{n}"] = (
                    "crm.duplicate.findbycomm",
                    {"type": kind, "values": part, "entity_type": comm_entity},
                )
        results, _ = self.client.read_batches(cmds) if cmds else ({}, {})
        rows: dict[str, dict[str, Any]] = {}
        found: set[str] = set()
        for key, value in results.items():
            if key.startswith(("id", "key")) and isinstance(value, list):
                rows.update({str(row["ID"]): row for row in value if isinstance(row, dict)})
            elif isinstance(value, dict):
                found.update(str(i) for i in value.get(comm_entity) or [])
        by_key: dict[str, dict[str, Any]] = {}
        for row in sorted(rows.values(), key=lambda r: int(r["ID"])):
            if row.get("ORIGINATOR_ID") == M.ORIGINATOR and row.get("ORIGIN_ID"):
                by_key.setdefault(str(row["ORIGIN_ID"]), row)
        unmatched = any(r.key not in by_key for r in fresh)
        if lead:
            if unmatched and found - rows.keys():
                rows.update(
                    self._rows("crm.lead.list", sorted(found - rows.keys(), key=int), M.LEAD_SELECT)
                )
            people = rows
        else:
            wanted = {str(r["CONTACT_ID"]) for r in rows.values() if r.get("CONTACT_ID")}
            wanted |= {r.crm_contact_id for r in records if r.crm_contact_id.isdigit()}
            wanted |= found if unmatched else set()
            people = self._rows(
                "crm.contact.list", sorted(wanted - {"0"}, key=int), M.CONTACT_SELECT
            )
        plans = self._choose(records, rows, by_key, people)
        if lead:
            self._deals_to_move(records, plans)
        return plans

    def _deals_to_move(self, records: list[CrmRecord], plans: list[_Plan]) -> None:
        """A converted lead's status moves its deal: read those deals (one request,
        only when some record moves to a deal stage)."""
        moving = {
            str(plan.row["ID"]): plan
            for record, plan in zip(records, plans, strict=True)
            if plan.row is not None
            and M.converted(plan.row)
            and record.stage is not None
            and record.stage[0].startswith(M.DEAL_PIPELINE)
        }
        if not moving:
            return
        cmds = {
            f"d{n}": (
                "crm.deal.list",
                {"filter": {"@LEAD_ID": part}, "select": M.LEAD_DEAL_SELECT, "start": -1},
            )
            for n, part in enumerate(_chunks(sorted(moving, key=int), LEAD_DEALS_CHUNK))
        }
        results, _ = self.client.read_batches(cmds)
        deals: dict[str, list[dict[str, Any]]] = {}
        for value in results.values():
            for row in value if isinstance(value, list) else []:
                if isinstance(row, dict):
                    deals.setdefault(str(row.get("LEAD_ID") or ""), []).append(row)
        for lead_id, plan in moving.items():
            plan.deal = M.lead_deal(deals.get(lead_id, []))

    def _rows(self, method: str, ids: list[str], select: list[str]) -> dict[str, dict[str, Any]]:
        cmds = {
            f"r{n}": (method, {"filter": {"@ID": part}, "select": select, "start": -1})
            for n, part in enumerate(_chunks(ids, PAGE))
        }
        results, _ = self.client.read_batches(cmds) if cmds else ({}, {})
        return {
            str(row["ID"]): row
            for value in results.values()
            if isinstance(value, list)
            for row in value
            if isinstance(row, dict)
        }

    def _choose(
        self,
        records: list[CrmRecord],
        rows: dict[str, dict[str, Any]],
        by_key: dict[str, dict[str, Any]],
        people: dict[str, dict[str, Any]],
    ) -> list[_Plan]:
        lead = self.entity == "lead"
        emails: dict[str, list[dict[str, Any]]] = {}
        phones: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(people.values(), key=lambda r: int(r["ID"])):
            for email in M.multi_values(row, "EMAIL"):
                emails.setdefault(email.strip().lower(), []).append(row)
            for phone in M.multi_values(row, "PHONE"):
                phones.setdefault(M.phone_digits(phone), []).append(row)
        claimed: set[str] = set()  # a CRM lead/deal goes to one record of this push

        def by_comm(record: CrmRecord) -> dict[str, Any] | None:
            candidates = emails.get(record.email.strip().lower(), []) if record.email else []
            if M.phone_digits(record.phone):
                candidates = candidates + phones.get(M.phone_digits(record.phone), [])
            for row in candidates:
                if not lead:
                    return row  # a contact may have many deals
                owner = row.get("ORIGIN_ID") if row.get("ORIGINATOR_ID") == M.ORIGINATOR else ""
                # A lead that carries another PRM lead's id belongs to that lead.
                if str(row["ID"]) not in claimed and (not owner or owner == record.key):
                    return row
            return None

        plans = []
        for record in records:
            if record.crm_id:
                row = rows.get(record.crm_id)
                if row is None:
                    plans.append(
                        _Plan(
                            error=f"{self.entity} {record.crm_id} not found in Bitrix24 (deleted?)"
                        )
                    )
                    continue
                plan = _Plan(row=row)
            else:
                row = by_key.get(record.key)
                if row is not None and str(row["ID"]) in claimed:
                    row = None
                plan = _Plan(row=row, matched=row is not None)
                if row is None and lead:
                    plan.row = by_comm(record)
                    plan.matched = plan.row is not None
            if plan.row is not None:
                claimed.add(str(plan.row["ID"]))
            if not lead:
                contact_id = str((plan.row or {}).get("CONTACT_ID") or record.crm_contact_id)
                plan.contact = people.get(contact_id) or by_comm(record)
            plans.append(plan)
        return plans

    def _write(
        self, chunk: list[tuple[int, CrmRecord, _Plan]], out: list[PushResult | None]
    ) -> None:
        cmds: dict[str, tuple[str, dict[str, Any]]] = {}
        alone: dict[str, tuple[str, dict[str, Any]]] = {}
        for n, (_, record, plan) in enumerate(chunk):
            if not plan.error:
                # Bitrix substitutes "$result[..]" inside batch values, even in our
                # data: a record whose text contains it is written outside the batch.
                mine = self._commands(n, record, plan)
                text = " ".join((record.title, record.email, record.phone, *record.values.values()))
                (alone if "$result" in text else cmds).update(mine)
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        if cmds:
            creates = any(method.endswith(".add") for method, _ in cmds.values())
            results, errors, _ = self.client.batch(cmds, idempotent=not creates)
        self._write_alone(alone, results, errors)
        cmds.update(alone)
        for n, (pos, record, plan) in enumerate(chunk):
            out[pos] = self._result(n, record, plan, cmds, results, errors)

    def _write_alone(
        self,
        cmds: dict[str, tuple[str, dict[str, Any]]],
        results: dict[str, Any],
        errors: dict[str, Any],
    ) -> None:
        """The batch's commands one call each, resolving our own ``$result[..]``."""
        for key, (method, params) in cmds.items():
            fields = dict(params.get("fields") or {})
            ref = str(fields.get("CONTACT_ID") or "")
            if ref.startswith("$result["):
                fields["CONTACT_ID"] = str(results.get(ref[8:-1], ""))
            try:
                data = self.client.call(
                    method, {**params, "fields": fields}, idempotent=not method.endswith(".add")
                )
            except CrmValidationError as exc:
                errors[key] = {"error": "", "error_description": str(exc)}
                continue
            results[key] = data.get("result")

    def _commands(
        self, n: int, record: CrmRecord, plan: _Plan
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        add_params = {"REGISTER_SONET_EVENT": "N"}
        if self.entity == "lead":
            fields = M.lead_fields(record, plan.row, self.currency)
            if plan.row is None:
                return {f"a{n}": ("crm.lead.add", {"fields": fields, "params": add_params})}
            lead_cmds: dict[str, tuple[str, dict[str, Any]]] = {}
            if fields:
                lead_cmds[f"u{n}"] = ("crm.lead.update", {"id": plan.row["ID"], "fields": fields})
            stage = record.stage[1] if record.stage is not None else ""
            if plan.deal is not None and stage and plan.deal.get("STAGE_ID") != stage:
                lead_cmds[f"g{n}"] = (
                    "crm.deal.update",
                    {"id": plan.deal["ID"], "fields": {"STAGE_ID": stage}},
                )
            return lead_cmds
        cmds: dict[str, tuple[str, dict[str, Any]]] = {}
        contact_ref = str((plan.contact or {}).get("ID") or "")
        if plan.contact is None:
            cmds[f"c{n}"] = (
                "crm.contact.add",
                {"fields": M.contact_fields(record, None), "params": add_params},
            )
            contact_ref = f"$result[c{n}]"
        elif fields := M.contact_fields(record, plan.contact):
            cmds[f"k{n}"] = ("crm.contact.update", {"id": contact_ref, "fields": fields})
        deal = M.deal_fields(record, plan.row, category_id=self.category_id, currency=self.currency)
        if plan.row is None or str(plan.row.get("CONTACT_ID") or "") != contact_ref:
            deal["CONTACT_ID"] = contact_ref
        if plan.row is None:
            cmds[f"d{n}"] = ("crm.deal.add", {"fields": deal, "params": add_params})
        elif deal:
            cmds[f"e{n}"] = ("crm.deal.update", {"id": plan.row["ID"], "fields": deal})
        return cmds

    def _result(
        self,
        n: int,
        record: CrmRecord,
        plan: _Plan,
        cmds: dict[str, Any],
        results: dict[str, Any],
        errors: dict[str, Any],
    ) -> PushResult:
        if plan.error:
            return self._failed(record, "validation", plan.error)
        mine = [k for k in cmds if k[1:] == str(n)]
        for key in mine:
            if key in errors:
                kind, text = command_error(errors[key])
                return self._failed(record, kind, f"{cmds[key][0]}: {text}")
            if key not in results:
                return self._failed(record, "retryable", f"{cmds[key][0]}: no answer")
        crm_id = str((plan.row or {}).get("ID") or "")
        contact_id = str((plan.contact or {}).get("ID") or "")
        crm_id = str(results.get(f"a{n}") or results.get(f"d{n}") or crm_id)
        contact_id = str(results.get(f"c{n}") or contact_id)
        return PushResult(
            key=record.key,
            ok=True,
            crm_id=crm_id,
            crm_contact_id=contact_id if self.entity == "deal" else "",
            matched=plan.matched,
            # Created here: its ADD event is the echo (an update's event carries
            # nothing that tells ours from a person's, so it is read).
            echo="add" if any(key[0] in "ad" for key in mine) else "",
        )

    # ------------------------------------------------------------ CRM -> PRM

    def _remote(self, rows: list[dict[str, Any]]) -> list[RemoteRecord]:
        contacts: dict[str, dict[str, Any]] = {}
        if self.entity == "deal":
            ids = {str(r.get("CONTACT_ID")) for r in rows if str(r.get("CONTACT_ID") or "0") != "0"}
            contacts = self._rows("crm.contact.list", sorted(ids, key=int), M.CONTACT_SELECT)
        return [
            M.remote_record(
                row, entity=self.entity, contact=contacts.get(str(row.get("CONTACT_ID")))
            )
            for row in rows
        ]

    def fetch(self, crm_ids: list[str]) -> list[RemoteRecord]:
        if self.entity == "lead":
            return self._fetch_leads(crm_ids)
        wanted = [i for i in dict.fromkeys(crm_ids) if i.isdigit()]
        rows = self._rows(f"crm.{self.entity}.list", wanted, self.select)
        remote = {r.crm_id: r for r in self._remote(list(rows.values()))}
        return [remote.get(i) or RemoteRecord(crm_id=i, deleted=True) for i in crm_ids]

    def _fetch_leads(self, crm_ids: list[str]) -> list[RemoteRecord]:
        """Leads by id, and for "deal:<id>" (a deal event) the lead it was made from;
        each converted lead with its deals, in one request (two for deal events)."""
        asked = [i for i in crm_ids if not i.startswith(webhooks.DEAL_PREFIX)]
        deal_ids = [i.removeprefix(webhooks.DEAL_PREFIX) for i in crm_ids if i not in asked]
        deal_ids = [i for i in dict.fromkeys(deal_ids) if i.isdigit()]
        followed: list[str] = []
        if deal_ids:
            deals = self._rows("crm.deal.list", sorted(deal_ids, key=int), M.LEAD_DEAL_SELECT)
            # A deal not made from a lead is none of a lead connection's business.
            followed = [str(d.get("LEAD_ID") or "") for d in deals.values()]
            followed = [i for i in followed if i.isdigit() and i != "0"]
        wanted = [i for i in dict.fromkeys(asked + followed) if i.isdigit()]
        remote = {r.crm_id: r for r in self._lead_records(wanted, {})}
        out = [remote.get(i) or RemoteRecord(crm_id=i, deleted=True) for i in asked]
        # A followed lead that is gone is not marked deleted on the deal's word.
        return out + [remote[i] for i in dict.fromkeys(followed) if i in remote and i not in asked]

    def _lead_records(self, ids: list[str], known: dict[str, dict[str, Any]]) -> list[RemoteRecord]:
        """Lead records for ``ids`` (rows in ``known`` are not read again), each converted
        lead with the deals made from it: one batch of lead and deal lists."""
        cmds: dict[str, tuple[str, dict[str, Any]]] = {}
        need = [i for i in ids if i not in known]
        for n, part in enumerate(_chunks(need, PAGE)):
            cmds[f"r{n}"] = (
                "crm.lead.list",
                {"filter": {"@ID": part}, "select": M.LEAD_SELECT, "start": -1},
            )
        ask = [i for i in ids if i not in known or M.converted(known[i])]
        for n, part in enumerate(_chunks(ask, LEAD_DEALS_CHUNK)):
            cmds[f"d{n}"] = (
                "crm.deal.list",
                {"filter": {"@LEAD_ID": part}, "select": M.LEAD_DEAL_SELECT, "start": -1},
            )
        results, _ = self.client.read_batches(cmds) if cmds else ({}, {})
        rows = {i: known[i] for i in ids if i in known}
        deals: dict[str, list[dict[str, Any]]] = {}
        for key, value in results.items():
            for row in value if isinstance(value, list) else []:
                if not isinstance(row, dict):
                    continue
                if key.startswith("r"):
                    rows[str(row["ID"])] = row
                else:
                    deals.setdefault(str(row.get("LEAD_ID") or ""), []).append(row)
        return [
            M.remote_record(rows[i], entity="lead", deals=deals.get(i, []))
            for i in ids
            if i in rows
        ]

    def changes_since(self, cursor: str) -> tuple[list[RemoteRecord], str]:
        records, cursor, _ = self.changes_page(cursor, 0)
        return records, cursor

    def changes_page(self, cursor: str, limit: int) -> tuple[list[RemoteRecord], str, bool]:
        """Everything modified after ``cursor``, oldest first (with ``limit``: the
        requests that reach it, the keyset cursor goes on from there). A lead connection
        also reads the deals made from leads, by their own DATE_MODIFY (a deal won does
        not touch its lead): the cursor is "<leads>;deal=<deals>"."""
        if self.entity != "lead":
            rows, cursor, more = self._changed(
                f"crm.{self.entity}.list", self.select, cursor, {}, limit
            )
            return self._remote(rows), cursor, more
        lead_cursor, sep, deal_cursor = cursor.partition(DEAL_CURSOR)
        if not sep and lead_cursor:
            # A cursor from before deals were followed: deals from the same moment on.
            deal_cursor = lead_cursor.partition("|")[0] + "|0"
        rows, lead_cursor, more_leads = self._changed(
            "crm.lead.list", M.LEAD_SELECT, lead_cursor, {}, limit
        )
        deals, deal_cursor, more_deals = self._changed(
            "crm.deal.list", M.LEAD_DEAL_SELECT, deal_cursor, {">LEAD_ID": 0}, limit
        )
        known = {str(r["ID"]): r for r in rows}
        ids = list(known) + [str(d.get("LEAD_ID") or "") for d in deals]
        ids = [i for i in dict.fromkeys(ids) if i.isdigit() and i != "0"]
        cursor = f"{lead_cursor}{DEAL_CURSOR}{deal_cursor}"
        return self._lead_records(ids, known), cursor, more_leads or more_deals

    def _changed(
        self, method: str, select: list[str], cursor: str, extra: dict[str, Any], limit: int = 0
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """Rows modified after ``cursor`` ("<DATE_MODIFY>|<ID>"), oldest first, and
        whether more remain (with ``limit``: stopping once that many are read).
        Keyset paging on (DATE_MODIFY, ID): Bitrix dates have whole seconds, so the
        rest of the cursor's second is read by ID, then later seconds by date; each
        request carries up to 45 pages of 50 rows."""
        date, _, last = cursor.partition("|")
        last_id = int(last) if last.isdigit() else 0
        seen: dict[str, dict[str, Any]] = {}
        order = {"DATE_MODIFY": "ASC", "ID": "ASC"}
        pages = min(PAGES_PER_POLL, -(-limit // PAGE)) if limit else PAGES_PER_POLL

        def listing(filter: dict[str, Any], **more: Any) -> tuple[str, dict[str, Any]]:
            return method, {"filter": {**filter, **extra}, "select": select, **more}

        while True:
            cmds: dict[str, tuple[str, dict[str, Any]]] = {}
            same = min(5, pages) if date else 0
            for n in range(same):
                cmds[f"eq{n}"] = listing(
                    {"=DATE_MODIFY": date, ">ID": last_id}, order={"ID": "ASC"}, start=n * PAGE
                )
            for n in range(pages):
                cmds[f"gt{n}"] = listing(
                    {">DATE_MODIFY": date} if date else {}, order=order, start=n * PAGE
                )
            results, _ = self.client.read_batches(cmds)
            same_rows = [r for n in range(same) for r in results.get(f"eq{n}") or []]
            if same and len(results.get(f"eq{same - 1}") or []) == PAGE:
                page, more = same_rows, True  # the cursor's second is not finished yet
            else:
                later = [r for n in range(pages) for r in results.get(f"gt{n}") or []]
                page = same_rows + later
                more = len(results.get(f"gt{pages - 1}") or []) == PAGE
            for row in page:
                seen.pop(str(row["ID"]), None)  # a row seen twice: keep its latest state
                seen[str(row["ID"])] = row
            if page:
                date, last_id = str(page[-1]["DATE_MODIFY"]), int(page[-1]["ID"])
            if not more or (limit and len(seen) >= limit):
                break
        return list(seen.values()), f"{date}|{last_id}" if date else cursor, more

    # ------------------------------------------------------------ events

    def parse_event(self, body: bytes, content_type: str) -> list[str]:
        form = webhooks.parse_body(body, content_type)
        token = str(self.credentials.get("application_token") or "")
        member_id = str(self.credentials.get("member_id") or "")
        if form.get("event", "").upper() == webhooks.INSTALL_EVENT and not token:
            # The app's install event hands over the application token. Trusted once,
            # only from the portal we hold tokens for, and only while we have none.
            given = form.get("auth[application_token]", "")
            if member_id and given and form.get("auth[member_id]") == member_id:
                self.credentials.update(application_token=given)
                return []
            raise CrmAuthError("Bitrix24 install event from an unknown portal")
        webhooks.verify(form, application_token=token, member_id=member_id)
        return webhooks.event_ids(form, self.entity)

    def event_versions(self, body: bytes, content_type: str) -> dict[str, str]:
        form = webhooks.parse_body(body, content_type)
        action = webhooks.event_action(form)
        return dict.fromkeys(webhooks.event_ids(form, self.entity), action) if action else {}

    def subscribe_events(self, destination: str) -> bool:
        if self.auth_kind != "oauth":
            return False  # outgoing webhooks are created by hand in the Bitrix24 UI
        _, errors, _ = self.client.batch(
            webhooks.bind_commands(self.entity, destination), idempotent=True
        )
        refused = [e for e in errors.values() if not webhooks.already_bound(e)]
        if refused:
            raise CrmValidationError(f"event.bind: {command_error(refused[0])[1]}")
        return True

    def close(self) -> None:
        self.client.close()


CONNECTOR = BitrixConnector
