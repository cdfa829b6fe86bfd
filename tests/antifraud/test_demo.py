"""`make run`'s demo: a flagged self-referral and an IP flood in the review queue, through
the real scoring, and Alice's reward on hold in her cabinet."""

from __future__ import annotations

from django.core.management import call_command

from antifraud.models import RiskAssessment
from prm.models import Tenant
from prm.tenancy import tenant_scope
from rewards.models import Reward


def test_the_demo_puts_a_self_referral_and_an_ip_flood_in_the_queue(db, client):
    call_command("prm_demo")
    call_command("prm_demo")  # idempotent
    acme = Tenant.objects.get(slug="acme")
    with tenant_scope(acme):
        waiting = RiskAssessment.objects.filter(level__in=["review", "reject"], decision="")
        codes = set(waiting.values_list("signals__code", flat=True))
        assert {"self_referral", "ip_burst"} <= codes
        assert waiting.filter(
            subject="conversion", partner__user__email="partner@acme.test"
        ).exists()
        held = Reward.objects.filter(
            partner__user__email="partner@acme.test", status="pending", flagged=True
        )
        assert held.filter(kind="conversion").exists()
    client.post(
        "/accounts/login/",
        {"login": "partner@acme.test", "password": "prm-demo-2026"},
        HTTP_HOST="acme.localhost",
    )
    html = client.get("/earnings/", HTTP_HOST="acme.localhost").content.decode()
    assert "Held for review" in html
    client.logout()
    client.post(
        "/accounts/login/",
        {"login": "manager@acme.test", "password": "prm-demo-2026"},
        HTTP_HOST="acme.localhost",
    )
    queue = client.get("/manage/antifraud/", HTTP_HOST="acme.localhost").content.decode()
    assert "Partner referred themselves" in queue
