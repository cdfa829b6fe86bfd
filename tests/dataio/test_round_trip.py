"""Exports round-trip through import: a file exported from one list imports back (into
the same workspace or another) and exports again with the same data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prm.dataio.models import ImportBatch
from prm.tenancy import tenant_scope
from programs.models import Lead, PromoCode
from programs.services.conversions import ConversionInput, conversion_record
from tests.dataio.conftest import content_of, parse
from tests.rewards.helpers import D, make_partner, make_program

PARTNER_COLUMNS = ["email", "name", "company", "status"]
LEAD_COLUMNS = ["program", "name", "email", "phone", "company", "external_id", "status", "partner"]
CONVERSION_COLUMNS = [
    "program",
    "order_id",
    "kind",
    "status",
    "amount",
    "currency",
    "customer_email",
    "promo_code",
    "occurred_at",
]


def export(client, kind: str, fmt: str, query: str = "") -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(f"/manage/{kind}/export/?format={fmt}&{query}")
    assert response.status_code == 200
    return content_of(response)


def import_file(client, kind: str, fmt: str, body: bytes) -> ImportBatch:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile(f"{kind}.{fmt}", body)
    response = client.post(f"/manage/{kind}/import/", {"file": upload})
    assert response.status_code == 302, response.content.decode()[-3000:]
    batch_id = response["Location"].rstrip("/").split("/")[-1]
    batch = ImportBatch.all_tenants_unscoped.get(pk=batch_id)
    assert batch.status == ImportBatch.Status.CHECKED, batch.result
    client.post(f"/manage/{kind}/import/{batch.pk}/confirm/")
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE, batch.result
    return batch


def table(body: bytes, fmt: str, columns: list[str]) -> list[tuple[str, ...]]:
    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.replace(tzinfo=value.tzinfo or UTC).isoformat()
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    rows = parse(body, fmt)
    return sorted(tuple(text(row[c]) for c in columns) for row in rows)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_partners_round_trip_into_another_workspace(
    client_for, money, owner, globex, outsider, fmt
):
    body = export(client_for(owner), "partners", fmt)
    import_file(client_for(outsider, "globex.localhost"), "partners", fmt, body)
    again = export(client_for(outsider, "globex.localhost"), "partners", fmt)
    assert table(again, fmt, PARTNER_COLUMNS) == table(body, fmt, PARTNER_COLUMNS)
    assert len(table(again, fmt, PARTNER_COLUMNS)) == 2


def test_leads_round_trip_after_being_deleted(client_for, money, owner, acme):
    client = client_for(owner)
    with tenant_scope(acme):
        Lead.objects.filter(name="Ben Customer").update(external_id="CRM-7", phone="+14155550100")
    body = export(client, "leads", "csv")
    with tenant_scope(acme):
        Lead.objects.all().delete()
    import_file(client, "leads", "csv", body)
    again = export(client, "leads", "csv")
    assert table(again, "csv", LEAD_COLUMNS) == table(body, "csv", LEAD_COLUMNS)
    # Re-importing the same export changes nothing: the lead with an external id is found.
    batch = import_file(client, "leads", "csv", again)
    # the lead without an external id comes in again as a new (duplicate) lead
    assert batch.result["new"] == 1, batch.result
    assert batch.result["skip"] == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_conversions_round_trip_into_another_workspace_through_attribution(
    client_for, acme, owner, globex, outsider, fmt
):
    with tenant_scope(acme):
        shop = make_program(acme, name="Shop")
        alice = make_partner(acme, shop, "ALICE", display_name="Alice")
        PromoCode.objects.create(tenant=acme, program=shop, partner=alice, code="SAVE10")
        at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
        for n, (amount, kind) in enumerate([("120.50", "sale"), ("9.99", "subscription")]):
            conversion_record(
                tenant=acme,
                program=shop,
                data=ConversionInput(
                    external_id=f"R-{n}",
                    amount=D(amount),
                    currency="USD",
                    kind=kind,
                    customer_email=f"buyer{n}@example.org",
                    promo_code="SAVE10",
                    occurred_at=at,
                ),
            )
    with tenant_scope(globex):
        gshop = make_program(globex, name="Shop")
        gpartner = make_partner(globex, gshop, "GLOBEXP", display_name="Globex partner")
        PromoCode.objects.create(tenant=globex, program=gshop, partner=gpartner, code="SAVE10")
    body = export(client_for(owner), "conversions", fmt)
    theirs = client_for(outsider, "globex.localhost")
    import_file(theirs, "conversions", fmt, body)
    again = export(theirs, "conversions", fmt)
    assert table(again, fmt, CONVERSION_COLUMNS) == table(body, fmt, CONVERSION_COLUMNS)
    assert {row["partner"] for row in parse(again, fmt)} == {"globexp@example.test"}
