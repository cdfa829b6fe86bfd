"""Every console list exports its current filtered rows (all pages) as CSV, XLSX and
JSON, with the list's permission, never another tenant's rows, formulas defused, and a
number of queries that does not grow with the rows."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from partners.models import PartnerProfile
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from programs.models import Conversion, Lead
from rewards.models import LedgerEntry, PayoutRequest, Reward
from tests.dataio.conftest import MARK, content_of, parse, rows_of
from tests.factories import PartnerFactory, UserFactory

FORMATS = ["csv", "xlsx", "json"]
LISTS = ["partners", "leads", "conversions", "rewards", "ledger", "payouts", "audit"]


def export_url(name: str, money, fmt: str, query: str = "") -> str:  # type: ignore[no-untyped-def]
    base = (
        f"/manage/partners/{money.alice.pk}/ledger/export/"
        if name == "ledger"
        else f"/manage/{name}/export/"
    )
    return f"{base}?format={fmt}" + (f"&{query}" if query else "")


def expected_count(name: str, money) -> int:  # type: ignore[no-untyped-def]
    """What the list itself holds (before the export adds its own audit row)."""
    with tenant_scope(money.tenant):
        return {
            "partners": lambda: PartnerProfile.objects.count(),
            "leads": lambda: Lead.objects.count(),
            "conversions": lambda: Conversion.objects.count(),
            "rewards": lambda: Reward.objects.count(),
            "ledger": lambda: LedgerEntry.objects.filter(partner=money.alice).count(),
            "payouts": lambda: PayoutRequest.objects.filter(status="requested").count(),
            "audit": lambda: AuditEntry.objects.count(),
        }[name]()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", LISTS)
def test_it_exports_every_row_of_the_list_and_none_of_another_tenant(
    client_for, money, globex_rows, owner, name, fmt
):
    count = expected_count(name, money)
    assert count > 0
    response = client_for(owner).get(export_url(name, money, fmt))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    body = content_of(response)
    assert MARK.encode() not in body
    assert MARK.lower().encode() not in body
    rows = parse(body, fmt)
    # the audit log's export includes its own audit row (written before it streams)
    assert len(rows) == count + (1 if name == "audit" else 0)


def _ids(rows: list[dict]) -> set[str]:
    return {str(row["id"]) for row in rows}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_partner_export_honours_the_lists_filters(client_for, money, owner, fmt):
    with tenant_scope(money.tenant):
        PartnerProfile.objects.filter(pk=money.bob.pk).update(status="blocked")
    client = client_for(owner)
    blocked = rows_of(client.get(export_url("partners", money, fmt, "status=blocked")), fmt)
    assert _ids(blocked) == {str(money.bob.pk)}
    searched = rows_of(client.get(export_url("partners", money, fmt, "q=alice")), fmt)
    assert _ids(searched) == {str(money.alice.pk)}
    assert searched[0]["email"] == "alice@example.test"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_lead_export_honours_the_lists_filters(client_for, money, owner, fmt):
    client = client_for(owner)
    qualified = rows_of(client.get(export_url("leads", money, fmt, "status=qualified")), fmt)
    assert [row["name"] for row in qualified] == ["Ben Customer"]
    by_partner = rows_of(
        client.get(export_url("leads", money, fmt, f"partner={money.alice.pk}")), fmt
    )
    assert [row["email"] for row in by_partner] == ["ann@customer.test"]
    assert by_partner[0]["partner"] == "alice@example.test"
    assert by_partner[0]["program"] == "Pro"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_conversion_export_honours_the_lists_filters(client_for, money, owner, fmt):
    rows = rows_of(
        client_for(owner).get(export_url("conversions", money, fmt, f"partner={money.bob.pk}")),
        fmt,
    )
    assert len(rows) == 1
    assert rows[0]["partner"] == "bob@example.test"
    assert str(rows[0]["amount"]) in {"300.00", "300.0", "300"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_reward_export_honours_the_lists_filters(client_for, money, owner, fmt):
    with tenant_scope(money.tenant):
        approved = set(Reward.objects.filter(status="approved").values_list("id", flat=True))
    rows = rows_of(client_for(owner).get(export_url("rewards", money, fmt, "status=approved")), fmt)
    assert _ids(rows) == {str(pk) for pk in approved}
    assert {row["status"] for row in rows} == {"approved"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_ledger_export_is_the_partners_own(client_for, money, owner, fmt):
    rows = rows_of(client_for(owner).get(export_url("ledger", money, fmt)), fmt)
    assert {row["partner"] for row in rows} == {"alice@example.test"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_payout_export_follows_the_queues_tab(client_for, money, owner, fmt):
    client = client_for(owner)
    requested = rows_of(client.get(export_url("payouts", money, fmt)), fmt)
    assert _ids(requested) == {str(money.requested.pk)}
    approved = rows_of(client.get(export_url("payouts", money, fmt, "tab=approved")), fmt)
    assert _ids(approved) == {str(money.approved.pk)}
    assert "••••" in approved[0]["details"]  # masked, as on the queue


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_audit_export_honours_the_lists_filters(client_for, money, owner, fmt):
    rows = rows_of(client_for(owner).get(export_url("audit", money, fmt, "action=settings")), fmt)
    assert [row["action"] for row in rows] == ["settings.update"]


def test_each_export_is_audited(client_for, money, owner):
    client_for(owner).get(export_url("leads", money, "xlsx", "status=qualified"))
    with tenant_scope(money.tenant):
        entry = AuditEntry.objects.filter(action="export.download").get()
    assert entry.actor == owner
    assert entry.after == {
        "list": "leads",
        "format": "xlsx",
        "filters": "status=qualified",
        "rows": 1,
    }


@pytest.mark.parametrize(
    "name,allowed",
    [
        ("partners", {"owner", "admin", "manager", "finance", "analyst"}),
        ("leads", {"owner", "admin", "manager", "finance", "analyst"}),
        ("rewards", {"owner", "admin", "finance", "analyst"}),
        ("ledger", {"owner", "admin", "finance", "analyst"}),
        ("payouts", {"owner", "admin", "finance", "analyst"}),
        ("audit", {"owner", "admin"}),
    ],
)
def test_an_export_needs_the_lists_own_permission(
    client_for, money, owner, admin, manager, finance, analyst, name, allowed
):
    people = {"owner": owner, "admin": admin, "manager": manager, "finance": finance}
    people["analyst"] = analyst
    for role, user in people.items():
        status = client_for(user).get(export_url(name, money, "csv")).status_code
        assert status == (200 if role in allowed else 403), (role, name)


def test_an_outsider_gets_404_and_a_partner_403(client_for, money, outsider, partner):
    assert client_for(outsider).get(export_url("leads", money, "csv")).status_code == 404
    assert client_for(partner).get(export_url("leads", money, "csv")).status_code == 403
    # another tenant's partner id in the ledger's URL is a 404 on the outsider's own host
    url = export_url("ledger", money, "csv")
    assert client_for(outsider, "globex.localhost").get(url).status_code == 404


FORMULAS = ['=HYPERLINK("http://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def formula_partners(acme):  # type: ignore[no-untyped-def]
    for n, text in enumerate(FORMULAS):
        PartnerFactory(
            tenant=acme,
            user=UserFactory(email=f"f{n}@example.test"),
            display_name=text,
            company=text,
        )


def test_csv_cells_that_start_a_formula_are_defused(client_for, owner, formula_partners):
    rows = rows_of(client_for(owner).get("/manage/partners/export/?format=csv"), "csv")
    names = sorted(row["name"] for row in rows if row["email"].startswith("f"))
    assert names == sorted("'" + text for text in FORMULAS)
    assert all(row["company"].startswith("'") for row in rows if row["email"].startswith("f"))


def test_xlsx_cells_that_start_a_formula_are_text_not_formulas(client_for, owner, formula_partners):
    body = content_of(client_for(owner).get("/manage/partners/export/?format=xlsx"))
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row]
    texts = [c.value for c in cells if isinstance(c.value, str) and "SUM" in c.value]
    assert texts and all(t.startswith("'") for t in texts)
    assert all(c.data_type != "f" for c in cells)


def test_json_keeps_the_values_as_they_are(client_for, owner, formula_partners):
    rows = rows_of(client_for(owner).get("/manage/partners/export/?format=json"), "json")
    assert sorted(r["name"] for r in rows if r["email"].startswith("f")) == sorted(FORMULAS)


@pytest.mark.parametrize("name", ["partners", "leads", "conversions", "rewards", "audit"])
def test_an_exports_queries_do_not_grow_with_its_rows(client_for, money, owner, acme, name):
    """Each format, before and after a dozen more rows (one world per list)."""
    client = client_for(owner)

    def queries(fmt: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(export_url(name, money, fmt))
            content_of(response)
        return len(ctx.captured_queries)

    queries("csv")  # the first request of a test warms the tenant and session lookups
    first = {fmt: queries(fmt) for fmt in FORMATS}
    with tenant_scope(acme):
        from tests.rewards.helpers import make_partner, sale

        for n in range(12):
            buyer = make_partner(acme, money.program, f"MORE{n}", display_name=f"More {n}")
            sale(money.program, buyer, "10.00")
            Lead.objects.create(
                tenant=acme,
                program=money.program,
                partner=buyer,
                source="api",
                email=f"m{n}@x.test",
            )
    assert {fmt: queries(fmt) for fmt in FORMATS} == first


def test_each_list_offers_the_export_menu_with_its_current_filters(client_for, money, owner):
    client = client_for(owner)
    ledger = f"/manage/partners/{money.alice.pk}/ledger/"
    pages = {
        "/manage/partners/?status=active": "/manage/partners/export/?status=active&amp;format=",
        "/manage/leads/?status=new&page=1": "/manage/leads/export/?status=new&amp;format=",
        "/manage/conversions/?status=attributed": "/manage/conversions/export/?status=attributed",
        "/manage/rewards/?status=pending": "/manage/rewards/export/?status=pending&amp;format=",
        ledger: f"{ledger}export/?format=",
        "/manage/payouts/?tab=paid": "/manage/payouts/export/?tab=paid&amp;format=",
        "/manage/audit/?action=reward": "/manage/audit/export/?action=reward&amp;format=",
    }
    for page, link in pages.items():
        html = client.get(page).content.decode()
        assert link in html, page
        assert "format=xlsx" in html and "format=json" in html


def test_an_unknown_format_falls_back_to_csv(client_for, money, owner):
    response = client_for(owner).get("/manage/leads/export/?format=exe")
    assert response["Content-Type"].startswith("text/csv")
