"""Console: exchange rates, added by hand or imported from CSV (all rows or none)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from rewards.models import ExchangeRate

D = Decimal


def rates(tenant) -> set[tuple]:  # type: ignore[no-untyped-def]
    with tenant_scope(tenant):
        return set(
            ExchangeRate.objects.values_list("base", "quote", "rate", "valid_from", "source")
        )


def upload(client, text: str):  # type: ignore[no-untyped-def]
    csv_file = SimpleUploadedFile("rates.csv", text.encode(), content_type="text/csv")
    return client.post("/manage/rates/import/", {"file": csv_file})


@pytest.fixture
def stored(acme):  # type: ignore[no-untyped-def]
    return ExchangeRate.all_tenants_unscoped.create(
        tenant=acme, base="EUR", quote="USD", rate=D("1.08"), valid_from=date(2025, 1, 1)
    )


@pytest.mark.parametrize("role", ["owner", "admin", "finance", "analyst"])
def test_it_lists_the_rates(client_for, acme, stored, role, request):
    response = client_for(request.getfixturevalue(role)).get("/manage/rates/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-rate="{stored.pk}"' in html and "1.08" in html and "2025-01-01" in html
    assert ('id="import-form"' in html) is (role in {"owner", "admin", "finance"})


def test_a_manager_has_no_rates_page(client_for, acme, stored, manager):
    assert client_for(manager).get("/manage/rates/").status_code == 403


def test_the_rates_page_stays_within_its_query_budget(
    client_for, acme, finance, django_assert_max_num_queries
):
    ExchangeRate.all_tenants_unscoped.bulk_create(
        ExchangeRate(tenant=acme, base="EUR", quote="USD", rate=1, valid_from=date(2024, 1, d))
        for d in range(1, 29)
    )
    client = client_for(finance)
    with django_assert_max_num_queries(8):
        assert client.get("/manage/rates/").status_code == 200


def test_it_adds_a_rate_by_hand_and_audits_it(client_for, acme, finance):
    response = client_for(finance).post(
        "/manage/rates/add/",
        {"base": "USD", "quote": "RUB", "rate": "92.5", "valid_from": "2025-02-01"},
    )
    assert response.status_code == 302
    assert rates(acme) == {("USD", "RUB", D("92.5"), date(2025, 2, 1), "manual")}
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="fx.create")
    assert entry.after["rate"] == "92.50000000"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quote": "EUR"}, "Choose two different currencies."),
        ({"rate": "0"}, "A rate is above zero."),
        ({"rate": "-1"}, "A rate is above zero."),
        ({"valid_from": "yesterday"}, "Enter a valid date."),
        ({"base": "XYZ"}, "Select a valid choice."),
        ({"quote": "USD", "valid_from": "2025-01-01"}, "already exists"),
    ],
)
def test_a_wrong_rate_shows_errors_and_saves_nothing(
    client_for, acme, finance, stored, data, message
):
    before = rates(acme)
    response = client_for(finance).post(
        "/manage/rates/add/",
        {"base": "EUR", "quote": "RUB", "rate": "100", "valid_from": "2025-03-01", **data},
    )
    assert response.status_code == 200
    assert message in str(response.context["form"].errors)
    assert rates(acme) == before


def test_it_imports_a_csv_file(client_for, acme, finance):
    response = upload(
        client_for(finance),
        "\ufeffBase, Quote ,rate,valid_from\n"
        "EUR,USD,1.0850,2025-01-01\n"
        "usd,rub,92.10,2025-01-01\n"
        "\n"
        "EUR,USD,1.09,2025-01-02\n",
    )
    assert response.status_code == 302
    assert rates(acme) == {
        ("EUR", "USD", D("1.085"), date(2025, 1, 1), "csv"),
        ("USD", "RUB", D("92.1"), date(2025, 1, 1), "csv"),
        ("EUR", "USD", D("1.09"), date(2025, 1, 2), "csv"),
    }
    entry = AuditEntry.all_tenants_unscoped.get(tenant=acme, action="fx.import")
    assert entry.after["rates"] == 3


def test_a_file_with_any_wrong_row_saves_nothing_and_names_every_row(
    client_for, acme, finance, stored
):
    before = rates(acme)
    response = upload(
        client_for(finance),
        "base,quote,rate,valid_from\n"
        "EUR,USD,1.1,2025-02-01\n"  # fine on its own
        "EUR,XYZ,1.1,2025-02-01\n"
        "EUR,RUB,zero,2025-02-01\n"
        "EUR,RUB,-3,2025-02-01\n"
        "EUR,RUB,100,01/02/2025\n"
        "EUR,EUR,1,2025-02-01\n"
        "EUR,USD,1.2,2025-02-01\n"
        "EUR,USD,1.08,2025-01-01\n",
    )
    assert response.status_code == 200
    errors = response.context["import_form"].errors["file"]
    assert errors == [
        "Row 3: unknown currency “XYZ”.",
        "Row 4: the rate “zero” is not a number above zero.",
        "Row 5: the rate “-3” is not a number above zero.",
        "Row 6: the date “01/02/2025” is not YYYY-MM-DD.",
        "Row 7: the two currencies are the same.",
        "Row 8: repeats row 2.",
        "Row 9: a rate from EUR to USD on 2025-01-01 already exists.",
    ]
    html = response.content.decode()
    assert "Row 8: repeats row 2." in html
    assert rates(acme) == before
    assert not AuditEntry.all_tenants_unscoped.filter(tenant=acme, action="fx.import").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from,to,rate\nEUR,USD,1\n", "The first line must name the columns"),
        ("base,quote,rate,valid_from\n", "The file has no rates."),
        ("", "The submitted file is empty."),
        ("\n\n", "The first line must name the columns"),
    ],
)
def test_a_file_that_is_not_a_rates_table_is_refused(client_for, acme, finance, text, message):
    response = upload(client_for(finance), text)
    assert message in str(response.context["import_form"].errors)
    assert rates(acme) == set()


def test_a_file_that_is_not_utf8_is_refused(client_for, acme, finance):
    csv_file = SimpleUploadedFile("rates.csv", b"base,quote,rate,valid_from\n\xff\xfe\n")
    response = client_for(finance).post("/manage/rates/import/", {"file": csv_file})
    assert "not UTF-8" in str(response.context["import_form"].errors)
