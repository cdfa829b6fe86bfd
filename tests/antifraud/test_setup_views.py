"""Antifraud settings (validated, saved as overrides only, rescore) and block lists
(validated and normalised)."""

from __future__ import annotations

import pytest

from antifraud.config import effective, settings_for
from antifraud.forms_blocklist import normalise_domain, normalise_ip
from antifraud.models import BlockEntry, RiskSettings
from antifraud.signals import REGISTRY
from prm.models import AuditEntry, Job
from tests.factories import PartnerFactory


def form_data(tenant, **changes: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The settings form as the page shows it (every signal at its effective value)."""
    row = settings_for(tenant)
    data: dict[str, object] = {
        "review_above": row.review_above,
        "reject_above": row.reject_above,
        "amount_cap": "",
        "amount_cap_currency": "USD",
    }
    for code, conf in effective(row).items():
        for key in ("enabled", "weight", "threshold", "window_minutes"):
            if key in conf and not (key == "enabled" and not conf[key]):
                data[f"{code}__{key}"] = conf[key]
    data.update(changes)
    return {k: v for k, v in data.items() if v is not False}


def test_saving_unchanged_settings_stores_no_overrides(client_for, admin, in_acme):
    response = client_for(admin).post("/manage/antifraud/settings/", form_data(in_acme))
    assert response.status_code == 302
    assert RiskSettings.objects.get().signals == {}


def test_only_what_differs_from_the_defaults_is_saved(client_for, admin, in_acme):
    code = "t_ip_flood"
    data = form_data(
        in_acme,
        **{f"{code}__weight": 30, f"{code}__window_minutes": 60, "review_above": 35},
    )
    data.pop("t_self_ref__enabled")  # unticked: off
    response = client_for(admin).post("/manage/antifraud/settings/", data)
    assert response.status_code == 302
    row = RiskSettings.objects.get()
    assert row.review_above == 35
    assert row.signals == {code: {"weight": 30}, "t_self_ref": {"enabled": False}}
    assert effective(row)[code]["window_minutes"] == REGISTRY[code].defaults["window_minutes"]
    entry = AuditEntry.objects.get(action="antifraud.settings")
    assert entry.after["review_above"] == 35 and entry.actor == admin


def test_an_override_set_back_to_the_default_is_dropped(client_for, admin, in_acme):
    row = settings_for(in_acme)
    row.signals = {"t_ip_flood": {"weight": 30, "extra": 1}}
    row.save()
    client_for(admin).post("/manage/antifraud/settings/", form_data(in_acme, t_ip_flood__weight=45))
    assert RiskSettings.objects.get().signals == {"t_ip_flood": {"extra": 1}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"t_ip_flood__weight": 101}, "A weight from 0 to 100."),
        ({"t_ip_flood__weight": -1}, "A weight from 0 to 100."),
        ({"review_above": 90, "reject_above": 80}, "The review score cannot be above the reject"),
        ({"reject_above": 101}, "A score from 0 to 100."),
        ({"t_ip_flood__window_minutes": "soon"}, "Enter a whole number."),
    ],
    ids=["weight-above-100", "weight-negative", "review-above-reject", "reject-101", "window"],
)
def test_invalid_settings_are_refused_and_nothing_is_saved(
    client_for, admin, in_acme, changes, message
):
    before = settings_for(in_acme).signals
    response = client_for(admin).post("/manage/antifraud/settings/", form_data(in_acme, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    row = RiskSettings.objects.get()
    assert row.signals == before and row.review_above == 40 and row.reject_above == 80


def test_the_settings_page_lists_every_registered_signal(client_for, admin):
    html = client_for(admin).get("/manage/antifraud/settings/").content.decode()
    for code in REGISTRY:
        assert f'data-signal="{code}"' in html


def test_rescore_enqueues_a_job_for_the_day_given(client_for, admin, in_acme, settings):
    settings.PRM_JOBS_INLINE = False  # only the enqueueing is under test here
    response = client_for(admin).post(
        "/manage/antifraud/settings/rescore/", {"since": "2026-01-01"}
    )
    assert response.status_code == 302
    job = Job.objects.get(func="antifraud.services.rescore.rescore_since")
    assert job.queue == "antifraud" and job.tenant_id == in_acme.pk
    assert job.kwargs == {"since": "2026-01-01"}
    assert AuditEntry.objects.filter(action="antifraud.rescore").count() == 1


def test_rescore_refuses_a_day_in_the_future(client_for, admin, in_acme):
    response = client_for(admin).post(
        "/manage/antifraud/settings/rescore/", {"since": "2999-01-01"}
    )
    assert response.status_code == 200
    assert not Job.objects.filter(func="antifraud.services.rescore.rescore_since").exists()


# Block lists


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.9/24 ", "203.0.113.0/24"),
        ("203.0.113.7/32", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:db8::1/48", "2001:db8::/48"),
        ("10.0.0.0/8", "10.0.0.0/8"),
    ],
)
def test_ips_and_networks_are_normalised(raw, stored):
    assert normalise_ip(raw) == stored


@pytest.mark.parametrize("raw", ["203.0.113", "0.0.0.0/0", "10.0.0.0/7", "::/16", "0.0.0.0", "x"])
def test_bad_or_too_wide_ips_are_refused(raw):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        normalise_ip(raw)


def test_domains_are_normalised():
    assert normalise_domain("@Mailinator.COM.") == "mailinator.com"
    assert normalise_domain("почта.рф") == "xn--80a1acny.xn--p1ai"


def test_a_manager_adds_and_removes_entries(client_for, manager, in_acme):
    client = client_for(manager)
    for kind, value in [
        ("ip", "198.51.100.23/24"),
        ("email", " Bad@Example.COM "),
        ("domain", "@TempMail.dev"),
    ]:
        response = client.post("/manage/antifraud/blocklist/add/", {"kind": kind, "value": value})
        assert response.status_code == 302, response.content.decode()
    assert set(BlockEntry.objects.values_list("kind", "value")) == {
        ("ip", "198.51.100.0/24"),
        ("email", "bad@example.com"),
        ("domain", "tempmail.dev"),
    }
    entry = BlockEntry.objects.get(kind="email")
    assert client.post(f"/manage/antifraud/blocklist/{entry.pk}/remove/").status_code == 302
    assert not BlockEntry.objects.filter(pk=entry.pk).exists()
    assert AuditEntry.objects.filter(action="antifraud.block").count() == 3
    assert AuditEntry.objects.filter(action="antifraud.unblock").count() == 1


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("ip", "999.1.1.1", "Enter an IP address"),
        ("ip", "0.0.0.0/1", "This network is too wide"),
        ("email", "not-an-email", "Enter an e-mail address."),
        ("domain", "localhost", "Enter an e-mail domain"),
        ("partner", "not-a-uuid", "Choose one of your partners."),
        ("partner", "7e57c0de-0000-4000-8000-000000000000", "Choose one of your partners."),
    ],
    ids=["ip", "wide", "email", "domain", "partner-garbage", "partner-unknown"],
)
def test_invalid_entries_are_refused(client_for, manager, in_acme, kind, value, message):
    response = client_for(manager).post(
        "/manage/antifraud/blocklist/add/", {"kind": kind, "value": value}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BlockEntry.objects.exists()


def test_a_duplicate_is_refused(client_for, manager, in_acme):
    client = client_for(manager)
    client.post("/manage/antifraud/blocklist/add/", {"kind": "ip", "value": "203.0.113.5"})
    response = client.post(
        "/manage/antifraud/blocklist/add/", {"kind": "ip", "value": "203.0.113.5/32"}
    )
    assert "This is already on the block list." in response.content.decode()
    assert BlockEntry.objects.count() == 1


def test_a_partner_is_found_by_search_and_blocked_never_one_of_another_tenant(
    client_for, manager, in_acme, globex
):
    mine = PartnerFactory(tenant=in_acme, display_name="Mallory Fraudster")
    theirs = PartnerFactory(tenant=globex, display_name="Mallory Elsewhere")
    client = client_for(manager)
    html = client.get("/manage/antifraud/blocklist/?partner_q=mallory").content.decode()
    assert "Mallory Fraudster" in html and "Mallory Elsewhere" not in html
    assert "<select" not in html.split('id="block-partner"')[1].split("</section>")[0]
    response = client.post(
        "/manage/antifraud/blocklist/add/", {"kind": "partner", "value": str(theirs.pk)}
    )
    assert "Choose one of your partners." in response.content.decode()
    client.post("/manage/antifraud/blocklist/add/", {"kind": "partner", "value": str(mine.pk)})
    assert list(BlockEntry.objects.values_list("kind", "value")) == [("partner", str(mine.pk))]
    assert "Mallory Fraudster" in client.get("/manage/antifraud/blocklist/").content.decode()


def test_the_block_list_is_paginated(client_for, admin, in_acme):
    BlockEntry.objects.bulk_create(
        [BlockEntry(tenant=in_acme, kind="ip", value=f"198.51.100.{i}") for i in range(60)]
    )
    client = client_for(admin)
    first = client.get("/manage/antifraud/blocklist/").content.decode()
    assert first.count("data-entry=") == 50 and "Page 1 of 2" in first
    assert (
        client.get("/manage/antifraud/blocklist/?page=2").content.decode().count("data-entry=")
        == 10
    )
