"""The HubSpot connector: a PRM lead is a deal with its contact, written with the CRM v3
batch APIs (100 inputs per request), matched before creating (our lead id on the deal,
then the contact's e-mail, then its phone), read back by polling the search API on
``hs_lastmodifieddate`` (deals) and ``lastmodifieddate`` (contacts: a contact edit does
not touch its deal), or hinted by app webhooks (signature v3).

Requests per 100 new leads: read deals by our id, read contacts by e-mail, upsert the
deals (by our id: a re-sent create finds its deal), upsert the contacts (by e-mail),
associate them: 5, well inside 100 per 10 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django.conf import settings as django_settings

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
from integrations.crm.hubspot import mapping as M
from integrations.crm.hubspot import webhooks
from integrations.crm.hubspot.client import DEFAULT_RESERVE, WINDOW_LIMIT, HubSpotClient

KEY_FIELD = "prm_lead_id"
ARCHIVE_SLACK_MS = 60_000  # archivedAt and our clock need not agree to the second
BATCH = 100
SEARCH_PAGE = 100
SEARCH_MAX = 10_000
PHONE_VALUES = 100  # values of one IN filter


class HubSpotConnector(Connector):
    provider: ClassVar[str] = "hubspot"
    batch_size: ClassVar[int] = BATCH

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_field = str(self.settings.get("key_field", KEY_FIELD) or KEY_FIELD)
        self.client = HubSpotClient(
            base_url=self.base_url,
            auth_url=self.auth_url,
            auth_kind=self.auth_kind,
            credentials=self.credentials,
            stats=self.stats,
            throttle_key=self.throttle_key,
            window_limit=int(self.settings.get("window_limit") or WINDOW_LIMIT),
            reserve=float(self.settings.get("api_reserve", DEFAULT_RESERVE)),
        )

    def close(self) -> None:
        self.client.close()

    # -- connection ----------------------------------------------------------------------

    def test_connection(self) -> str:
        _, account = self.client.request("GET", "account-info/v3/details")
        account = account or {}
        portal = str(account.get("portalId") or "")
        if not portal:
            raise CrmValidationError("HubSpot returned no portal for this token")
        self.settings["portal_id"] = portal
        if not self.settings.get("currency"):
            self.settings["currency"] = str(account.get("companyCurrency") or "USD")
        return f"HubSpot portal {portal} ({account.get('uiDomain') or 'app.hubspot.com'})"

    def list_fields(self) -> list[CrmField]:
        _, data = self.client.request("GET", "crm/v3/properties/deals")
        rows = [r for r in (data or {}).get("results", []) if isinstance(r, dict)]
        names = {str(r.get("name")) for r in rows}
        if self.key_field not in names:
            raise CrmValidationError(
                f"HubSpot has no deal property {self.key_field!r}: create a single-line text "
                "deal property 'PRM lead id' with unique values"
            )
        custom = [
            CrmField(str(r["name"]), str(r.get("label") or r["name"]))
            for r in rows
            if not r.get("hubspotDefined")
            and not (r.get("modificationMetadata") or {}).get("readOnlyValue")
        ]
        return [*M.STANDARD_FIELDS, *custom]

    def list_stages(self) -> list[CrmStage]:
        _, data = self.client.request("GET", "crm/v3/pipelines/deals")
        stages: list[CrmStage] = []
        for pipeline in (data or {}).get("results", []):
            if not isinstance(pipeline, dict) or pipeline.get("archived"):
                continue
            for stage in pipeline.get("stages") or []:
                if not isinstance(stage, dict) or stage.get("archived"):
                    continue
                meta = stage.get("metadata") or {}
                closed = str(meta.get("isClosed")).lower() == "true"
                try:
                    won = closed and float(meta.get("probability") or 0) >= 1.0
                except ValueError:
                    won = False
                semantic = "won" if won else "lost" if closed else "open"
                stages.append(
                    CrmStage(
                        str(pipeline["id"]),
                        str(pipeline.get("label") or pipeline["id"]),
                        str(stage["id"]),
                        str(stage.get("label") or stage["id"]),
                        semantic,
                    )
                )
        return stages

    # -- HTTP helpers --------------------------------------------------------------------

    def _batch_read(
        self, kind: str, ids: Iterable[str], properties: list[str], id_property: str = ""
    ) -> dict[str, dict[str, Any]]:
        """Objects by id (or by a unique property's value), keyed by what was asked."""
        wanted = [i for i in dict.fromkeys(str(i) for i in ids) if i]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH):
            body: dict[str, Any] = {
                "properties": properties,
                "inputs": [{"id": i} for i in wanted[start : start + BATCH]],
            }
            if id_property:
                body["idProperty"] = id_property
            _, answer = self.client.request(
                "POST", f"crm/v3/objects/{kind}/batch/read", json=body, idempotent=True
            )
            for row in (answer or {}).get("results", []):
                if not isinstance(row, dict):
                    continue
                props = row.get("properties") or {}
                key = str(row["id"]) if not id_property else str(props.get(id_property) or "")
                if id_property == "email":
                    key = key.lower()
                found[key] = row
        return found

    def _associated(self, src: str, dst: str, ids: Iterable[str]) -> dict[str, list[str]]:
        wanted = [i for i in dict.fromkeys(ids) if i]
        out: dict[str, list[str]] = {}
        for start in range(0, len(wanted), BATCH):
            _, answer = self.client.request(
                "POST",
                f"crm/v4/associations/{src}/{dst}/batch/read",
                json={"inputs": [{"id": i} for i in wanted[start : start + BATCH]]},
                idempotent=True,
            )
            for row in (answer or {}).get("results", []):
                source = str((row.get("from") or {}).get("id") or "")
                targets = [str(t.get("toObjectId")) for t in row.get("to") or []]
                out[source] = sorted(targets, key=lambda t: int(t) if t.isdigit() else 0)
        return out

    def _search(
        self, kind: str, filter_groups: list[dict[str, Any]], properties: list[str], sort: str = ""
    ) -> list[dict[str, Any]]:
        """Every result of a search (the API stops at 10,000 per query: a sorted search
        continues from the last modification time it saw)."""
        rows: dict[str, dict[str, Any]] = {}
        groups = filter_groups
        since = ""
        while True:
            after = 0
            last: dict[str, Any] | None = None
            more_than_max = False
            while True:
                body: dict[str, Any] = {
                    "filterGroups": groups,
                    "properties": properties,
                    "limit": SEARCH_PAGE,
                    "after": str(after),
                }
                if sort:
                    body["sorts"] = [{"propertyName": sort, "direction": "ASCENDING"}]
                _, answer = self.client.request(
                    "POST",
                    f"crm/v3/objects/{kind}/search",
                    json=body,
                    idempotent=True,
                    search=True,
                )
                page = [r for r in (answer or {}).get("results", []) if isinstance(r, dict)]
                for row in page:
                    rows[str(row["id"])] = row
                    last = row
                following = ((answer or {}).get("paging") or {}).get("next") or {}
                if not following.get("after"):
                    break
                after = int(following["after"])
                if after + SEARCH_PAGE > SEARCH_MAX:
                    more_than_max = True
                    break
            if not (more_than_max and sort and last):
                return list(rows.values())
            following_since = str(
                M.epoch_ms(M.parse_datetime((last.get("properties") or {}).get(sort)))
            )
            if following_since == since:  # 10,000 changes in one millisecond: give up here
                return list(rows.values())
            since = following_since
            groups = [{"filters": [{"propertyName": sort, "operator": "GTE", "value": since}]}]

    def _write(
        self, kind: str, action: str, inputs: list[dict[str, Any]], *, idempotent: bool
    ) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """One batch write; (results, {input index: error}) where HubSpot refused inputs.
        A whole batch refused for one bad input (HubSpot validates the batch as one) is
        split in halves until the bad inputs stand alone."""
        if not inputs:
            return [], {}
        try:
            status, answer = self.client.request(
                "POST",
                f"crm/v3/objects/{kind}/batch/{action}",
                json={"inputs": inputs},
                idempotent=idempotent,
            )
        except CrmValidationError as exc:
            if len(inputs) == 1:
                return [], {0: str(exc)}
            half = len(inputs) // 2
            first, bad_first = self._write(kind, action, inputs[:half], idempotent=idempotent)
            second, bad_second = self._write(kind, action, inputs[half:], idempotent=idempotent)
            errors = {**bad_first, **{half + n: e for n, e in bad_second.items()}}
            return first + second, errors
        results = [r for r in (answer or {}).get("results", []) if isinstance(r, dict)]
        errors: dict[int, str] = {}
        for problem in (answer or {}).get("errors", []) if status == 207 else []:
            ids = {str(i) for i in (problem.get("context") or {}).get("ids", [])}
            text = f"{problem.get('category')}: {problem.get('message')}"
            for n, item in enumerate(inputs):
                if str(item.get("id") or "") in ids:
                    errors[n] = text
        return results, errors

    # -- PRM -> CRM ----------------------------------------------------------------------

    def push(self, records: list[CrmRecord]) -> list[PushResult]:
        results: list[PushResult | None] = [None] * len(records)
        for start in range(0, len(records), self.batch_size):
            chunk = records[start : start + self.batch_size]
            try:
                self._push_chunk(chunk, results, start)
            except CrmValidationError as exc:  # a look-up itself was refused
                for n in range(start, start + len(chunk)):
                    results[n] = results[n] or _failed(records[n], "validation", str(exc))
            except CrmRetryable as exc:  # incl. CrmRateLimited; CrmAuthError propagates
                for n in range(start, len(records)):
                    if results[n] is None:
                        results[n] = _failed(records[n], "retryable", str(exc))
                        results[n].retry_after = getattr(exc, "retry_after", 0.0)
                break
        return [
            r or _failed(records[n], "retryable", "not attempted") for n, r in enumerate(results)
        ]

    @property
    def _known(self) -> set[str]:
        return {
            str(f.get("key"))
            for f in self.settings.get("fields") or []
            if isinstance(f, dict) and not f.get("standard")
        } | set(M.DEAL_PROPERTIES)

    @property
    def _custom_keys(self) -> list[str]:
        known = sorted(k for k in self._known if k not in M.DEAL_PROPERTIES)
        return list(dict.fromkeys([self.key_field, *known]))

    def _deal_properties(self) -> list[str]:
        return list(dict.fromkeys([*M.DEAL_PROPERTIES, *self._custom_keys]))

    def _push_chunk(
        self, chunk: list[CrmRecord], results: list[PushResult | None], offset: int
    ) -> None:
        props = self._deal_properties()
        deal_of: dict[int, dict[str, Any]] = {}  # chunk index -> existing deal
        matched: set[int] = set()
        linked = self._batch_read("deals", [r.crm_id for r in chunk if r.crm_id], props)
        for n, record in enumerate(chunk):
            if record.crm_id and record.crm_id in linked:
                deal_of[n] = linked[record.crm_id]
        # Not linked, or the linked deal is gone: our id first (a create whose answer
        # was lost, or a merged deal), then the contact's e-mail and phone.
        open_ = [n for n, r in enumerate(chunk) if n not in deal_of]
        by_key = self._batch_read(
            "deals", [chunk[n].key for n in open_], props, id_property=self.key_field
        )
        for n in open_:
            if (row := by_key.get(chunk[n].key)) is not None:
                deal_of[n] = row
                matched.add(n)
        contact_of, joined = self._match_contacts(chunk, deal_of)
        joined |= self._match_deals_of_contacts(chunk, deal_of, contact_of, matched, props)
        for n, record in enumerate(chunk):
            if record.crm_id and n not in deal_of:
                message = f"Deal {record.crm_id} no longer exists in HubSpot"
                results[offset + n] = _failed(record, "validation", message)
        self._write_deals(chunk, deal_of, matched, results, offset)
        self._write_contacts(chunk, deal_of, contact_of, joined, results, offset)

    def _match_contacts(
        self, chunk: list[CrmRecord], deal_of: dict[int, dict[str, Any]]
    ) -> tuple[dict[int, dict[str, Any]], set[int]]:
        """The contact of each input: the deal's own (first associated), else one with
        the same e-mail, else one with the same phone (any of its written forms); and
        the inputs whose contact is already associated with their deal."""
        contact_of: dict[int, dict[str, Any]] = {}
        known_ids = {n: chunk[n].crm_contact_id for n in deal_of if chunk[n].crm_contact_id}
        need_assoc = [str(deal_of[n]["id"]) for n in deal_of if n not in known_ids]
        assoc = self._associated("deals", "contacts", need_assoc)
        for n, deal in deal_of.items():
            if n not in known_ids and assoc.get(str(deal["id"])):
                known_ids[n] = assoc[str(deal["id"])][0]
        by_id = self._batch_read("contacts", known_ids.values(), M.CONTACT_PROPERTIES)
        for n, contact_id in known_ids.items():
            if contact_id in by_id:
                contact_of[n] = by_id[contact_id]
        joined = set(contact_of)
        # Deals without a contact yet (new ones, or linked ones whose contact is gone).
        emails = {n: _email(r) for n, r in enumerate(chunk) if n not in contact_of and _email(r)}
        by_email = self._batch_read(
            "contacts", emails.values(), M.CONTACT_PROPERTIES, id_property="email"
        )
        for n, email in emails.items():
            if email in by_email:
                contact_of[n] = by_email[email]
        phones = {
            n: M.phone_variants(_phone(r))
            for n, r in enumerate(chunk)
            if n not in contact_of and n not in emails and _phone(r)
        }
        values = list(dict.fromkeys(v for variants in phones.values() for v in variants))
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), PHONE_VALUES):
            group = {
                "filters": [
                    {
                        "propertyName": "phone",
                        "operator": "IN",
                        "values": values[start : start + PHONE_VALUES],
                    }
                ]
            }
            found += self._search("contacts", [group], M.CONTACT_PROPERTIES)
        by_digits: dict[str, dict[str, Any]] = {}
        for row in sorted(found, key=lambda r: int(r["id"])):
            by_digits.setdefault(M.digits(str((row.get("properties") or {}).get("phone"))), row)
        for n, variants in phones.items():
            if (row := by_digits.get(M.digits(variants[0]))) is not None:
                contact_of[n] = row
        return contact_of, joined

    def _match_deals_of_contacts(
        self,
        chunk: list[CrmRecord],
        deal_of: dict[int, dict[str, Any]],
        contact_of: dict[int, dict[str, Any]],
        matched: set[int],
        props: list[str],
    ) -> set[int]:
        """A new lead whose contact HubSpot already has takes that contact's deal no PRM
        lead has claimed yet (the person's open deal); otherwise a new deal is made for
        the same contact."""
        waiting = [n for n in contact_of if n not in deal_of and not chunk[n].crm_id]
        if not waiting:
            return set()
        deals_by_contact = self._associated(
            "contacts", "deals", [str(contact_of[n]["id"]) for n in waiting]
        )
        candidates = {
            d for n in waiting for d in deals_by_contact.get(str(contact_of[n]["id"]), [])
        }
        rows = self._batch_read("deals", candidates, props)
        taken: set[str] = set()
        for n in waiting:
            for deal_id in deals_by_contact.get(str(contact_of[n]["id"]), []):
                row = rows.get(deal_id)
                if row is None or deal_id in taken:
                    continue
                if (row.get("properties") or {}).get(self.key_field):
                    continue  # another PRM lead's deal
                deal_of[n] = row
                matched.add(n)
                taken.add(deal_id)
                break
        return {n for n in waiting if n in deal_of}

    def _write_deals(
        self,
        chunk: list[CrmRecord],
        deal_of: dict[int, dict[str, Any]],
        matched: set[int],
        results: list[PushResult | None],
        offset: int,
    ) -> None:
        known = self._known if self.settings.get("fields") else set()
        updates: list[tuple[int, dict[str, Any]]] = []
        creates: list[tuple[int, dict[str, Any]]] = []
        for n, record in enumerate(chunk):
            if results[offset + n] is not None:
                continue
            row = deal_of.get(n)
            if row is None:
                changes = M.deal_changes(record, None, key_field=self.key_field, known=known)
                creates.append(
                    (n, {"idProperty": self.key_field, "id": record.key, "properties": changes})
                )
                continue
            changes = M.deal_changes(
                record, row.get("properties") or {}, key_field=self.key_field, known=known
            )
            if changes:
                updates.append((n, {"id": str(row["id"]), "properties": changes}))
        _, errors = self._write("deals", "update", [body for _, body in updates], idempotent=True)
        for k, (n, _) in enumerate(updates):
            if k in errors:
                results[offset + n] = _failed(chunk[n], "validation", errors[k])
        # Upsert by our id: a create re-sent after a lost answer finds its own deal.
        made, errors = self._write(
            "deals", "upsert", [body for _, body in creates], idempotent=True
        )
        by_key = {str((r.get("properties") or {}).get(self.key_field) or ""): r for r in made}
        for k, (n, body) in enumerate(creates):
            if k in errors:
                results[offset + n] = _failed(chunk[n], "validation", errors[k])
            elif (row := by_key.get(body["id"])) is not None:
                deal_of[n] = row
            else:
                results[offset + n] = _failed(chunk[n], "retryable", "no result from HubSpot")
        for n in deal_of:
            if results[offset + n] is None:
                results[offset + n] = PushResult(
                    key=chunk[n].key,
                    ok=True,
                    crm_id=str(deal_of[n]["id"]),
                    matched=n in matched,
                )

    def _write_contacts(
        self,
        chunk: list[CrmRecord],
        deal_of: dict[int, dict[str, Any]],
        contact_of: dict[int, dict[str, Any]],
        joined: set[int],
        results: list[PushResult | None],
        offset: int,
    ) -> None:
        links: list[dict[str, Any]] = []
        updates: list[tuple[int, dict[str, Any]]] = []
        upserts: list[tuple[int, dict[str, Any]]] = []
        creates: list[tuple[int, dict[str, Any]]] = []
        for n, record in enumerate(chunk):
            result = results[offset + n]
            if result is None or not result.ok:
                continue
            contact = contact_of.get(n)
            if contact is not None:
                result.crm_contact_id = str(contact["id"])
                if n not in joined:  # found by e-mail or phone: link it to the deal
                    links.append(
                        {"from": {"id": str(deal_of[n]["id"])}, "to": {"id": str(contact["id"])}}
                    )
                changes = M.contact_changes(record, contact.get("properties") or {})
                if changes:
                    updates.append((n, {"id": str(contact["id"]), "properties": changes}))
                continue
            changes = M.contact_changes(record, None)
            if not changes:
                continue  # nothing to know the person by: a deal alone is valid
            if changes.get("email"):
                upserts.append(
                    (n, {"idProperty": "email", "id": changes["email"], "properties": changes})
                )
            else:
                # No e-mail to upsert by: created with its association to the deal, so a
                # retry after a lost answer finds it through the deal.
                creates.append(
                    (
                        n,
                        {
                            "properties": changes,
                            "associations": [
                                {
                                    "to": {"id": str(deal_of[n]["id"])},
                                    "types": [
                                        {
                                            "associationCategory": "HUBSPOT_DEFINED",
                                            "associationTypeId": 4,
                                        }
                                    ],
                                }
                            ],
                        },
                    )
                )
        # Contact trouble never fails the deal that is already written: the refusal is
        # reported on the result (a warning) and the contact's values stay unagreed, so
        # the next change pushes them again.
        _, refused = self._write("contacts", "update", [b for _, b in updates], idempotent=True)
        for k, (n, _) in enumerate(updates):
            if k in refused:
                _contact_refused(results[offset + n], refused[k])
        # One e-mail twice in a chunk (two leads, one person) is one contact.
        unique: dict[str, tuple[int, dict[str, Any]]] = {}
        for n, body in upserts:
            unique.setdefault(body["id"], (n, body))
        made, errors = self._write(
            "contacts", "upsert", [b for _, b in unique.values()], idempotent=True
        )
        refused_emails = {
            body["id"]: errors[k] for k, (_, body) in enumerate(unique.values()) if k in errors
        }
        by_email = {str((r.get("properties") or {}).get("email") or "").lower(): r for r in made}
        created, refused = self._write(
            "contacts", "create", [b for _, b in creates], idempotent=False
        )
        for n, body in upserts:
            if body["id"] in refused_emails:
                _contact_refused(results[offset + n], refused_emails[body["id"]])
            elif (row := by_email.get(body["id"])) is not None:
                results[offset + n].crm_contact_id = str(row["id"])
                links.append({"from": {"id": str(deal_of[n]["id"])}, "to": {"id": str(row["id"])}})
        made_ok = iter(created)
        for k, (n, _) in enumerate(creates):
            if k in refused:
                _contact_refused(results[offset + n], refused[k])
            elif (row := next(made_ok, None)) is not None:
                results[offset + n].crm_contact_id = str(row["id"])
        for start in range(0, len(links), BATCH):
            self.client.request(
                "POST",
                "crm/v4/associations/deals/contacts/batch/associate/default",
                json={"inputs": links[start : start + BATCH]},
                idempotent=True,
            )

    # -- CRM -> PRM ----------------------------------------------------------------------

    def fetch(self, crm_ids: list[str]) -> list[RemoteRecord]:
        """Deals by id, and for "contact:<id>" (a contact's event) the deals it is
        associated with (one associations request per 100 contacts)."""
        prefix = webhooks.CONTACT_PREFIX
        asked = [str(i) for i in crm_ids if not str(i).startswith(prefix)]
        contacts = [str(i).removeprefix(prefix) for i in crm_ids if str(i).startswith(prefix)]
        followed: list[str] = []
        if contacts:
            touched = self._associated("contacts", "deals", [c for c in contacts if c.isdigit()])
            followed = [d for ids in touched.values() for d in ids if d not in asked]
        deals = self._batch_read("deals", [*asked, *followed], self._deal_properties())
        records = self._remote(list(deals.values()))
        by_id = {r.crm_id: r for r in records}
        out = [by_id.get(i) or RemoteRecord(crm_id=i, deleted=True) for i in asked]
        # A followed deal that is gone is not marked deleted on a contact's word.
        return out + [by_id[d] for d in dict.fromkeys(followed) if d in by_id]

    def _remote(self, deals: list[dict[str, Any]]) -> list[RemoteRecord]:
        live = [d for d in deals if not d.get("archived")]
        assoc = self._associated("deals", "contacts", [str(d["id"]) for d in live])
        first = {deal: ids[0] for deal, ids in assoc.items() if ids}
        contacts = self._batch_read("contacts", first.values(), M.CONTACT_PROPERTIES)
        currency = str(self.settings.get("currency") or "")
        return [
            M.remote_record(
                deal,
                contacts.get(first.get(str(deal["id"]), "")),
                key_field=self.key_field,
                custom_keys=self._custom_keys,
                currency=currency,
            )
            for deal in deals
        ]

    def changes_since(self, cursor: str) -> tuple[list[RemoteRecord], str]:
        """Deals modified since the cursor, deals whose contact was modified since, and
        deals archived since the last look at them. The cursor is ``<deal ms>|<contact
        ms>|<archive scan ms>``; the boundary millisecond is read again (applying a
        record twice changes nothing)."""
        deal_ms, contact_ms, scan_ms = _parse_cursor(cursor)
        props = self._deal_properties()
        filters = []
        if deal_ms:
            filters = [
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(deal_ms),
                        }
                    ]
                }
            ]
        deals = {
            str(r["id"]): r
            for r in self._search("deals", filters, props, sort="hs_lastmodifieddate")
        }
        newest_deal = max([deal_ms, *(_ms(r, "hs_lastmodifieddate") for r in deals.values())])
        newest_contact = contact_ms
        if cursor:
            contacts = self._search(
                "contacts",
                [
                    {
                        "filters": [
                            {
                                "propertyName": "lastmodifieddate",
                                "operator": "GTE",
                                "value": str(contact_ms),
                            }
                        ]
                    }
                ],
                ["lastmodifieddate"],
                sort="lastmodifieddate",
            )
            newest_contact = max([contact_ms, *(_ms(r, "lastmodifieddate") for r in contacts)])
            touched = self._associated("contacts", "deals", [str(r["id"]) for r in contacts])
            extra = {d for ids in touched.values() for d in ids if d not in deals}
            deals.update(self._batch_read("deals", extra, props))
        else:
            newest_contact = newest_deal
        # Deletions: the search API never returns archived deals and the archived list
        # cannot be filtered by time, so it is read whole: on the first poll and then
        # once per reconciliation interval, not every minute (webhook deletion events
        # tell sooner where subscribed).
        now_ms = int(time.time() * 1000)
        if not cursor or now_ms - scan_ms >= django_settings.PRM_CRM_RECONCILE_SECONDS * 1000:
            for row in self._archived_since(max(0, scan_ms - ARCHIVE_SLACK_MS)):
                deals.setdefault(str(row["id"]), row)
            scan_ms = now_ms
        cursor = f"{newest_deal}|{newest_contact}|{scan_ms}"
        return self._remote(list(deals.values())), cursor

    def _archived_since(self, since_ms: int) -> list[dict[str, Any]]:
        """Deals archived (deleted) after ``since_ms``: the search API never returns
        archived objects, the list endpoint does with ``archived=true``."""
        rows: list[dict[str, Any]] = []
        after = ""
        while True:
            query = {"archived": "true", "limit": "100", "properties": self.key_field}
            if after:
                query["after"] = after
            _, answer = self.client.request("GET", "crm/v3/objects/deals", params=query)
            for row in (answer or {}).get("results", []):
                stamp = M.parse_datetime(row.get("archivedAt") or row.get("updatedAt"))
                if isinstance(row, dict) and M.epoch_ms(stamp) >= since_ms:
                    rows.append({**row, "archived": True})
            after = str((((answer or {}).get("paging") or {}).get("next") or {}).get("after") or "")
            if not after:
                return rows

    # -- events --------------------------------------------------------------------------

    def parse_event(self, body: bytes, content_type: str) -> list[str]:
        raise CrmAuthError("HubSpot webhook without a v3 signature")

    def parse_request(
        self,
        body: bytes,
        content_type: str,
        *,
        method: str,
        uris: list[str],
        headers: Mapping[str, str],
    ) -> list[str]:
        """Verify the v3 signature (against each address the request may have been sent
        to: behind a proxy the scheme or host we see may differ) and the portal id."""
        secret = str(self.credentials.get("client_secret") or "")
        given = {
            "X-HubSpot-Signature-v3": str(headers.get("X-HubSpot-Signature-v3") or ""),
            "X-HubSpot-Request-Timestamp": str(headers.get("X-HubSpot-Request-Timestamp") or ""),
        }
        refused: CrmAuthError | None = None
        for uri in dict.fromkeys(uris):
            try:
                webhooks.verify(secret, method, uri, body, given)
                break
            except CrmAuthError as exc:
                refused = exc
        else:
            raise refused or CrmAuthError("HubSpot webhook signature does not match")
        portal = str(self.settings.get("portal_id") or "")
        ids = webhooks.deal_ids(body, portal_id=portal)
        return ids

    def subscribe_events(self, destination: str) -> bool:
        return False  # app subscriptions are set in the app's settings; we poll anyway


# -- helpers -------------------------------------------------------------------------------


def _email(record: CrmRecord) -> str:
    return (record.values.get("email", record.email) or "").strip().lower()


def _phone(record: CrmRecord) -> str:
    return (record.values.get("phone", record.phone) or "").strip()


def _ms(row: dict[str, Any], name: str) -> int:
    return M.epoch_ms(M.parse_datetime((row.get("properties") or {}).get(name)))


def _parse_cursor(cursor: str) -> tuple[int, int, int]:
    parts = [int(p) if p.isdigit() else 0 for p in (cursor or "").split("|")]
    return (*parts, 0, 0, 0)[:3]  # type: ignore[return-value]


def _contact_refused(result: PushResult | None, error: str) -> None:
    if result is not None:
        result.warning = f"HubSpot refused the contact: {error}"[:2000]
        result.unwritten = frozenset(M.CONTACT_KEYS)


def _failed(record: CrmRecord, kind: str, error: str) -> PushResult:
    return PushResult(key=record.key, ok=False, error_kind=kind, error=error[:2000])


CONNECTOR = HubSpotConnector
