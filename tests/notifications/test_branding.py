"""Notification e-mails carry the tenant's branding: sender name, reply-to, colour, logo."""

from __future__ import annotations

from prm.models.branding import Branding
from prm.notifications.branding import email_branding


def test_the_e_mail_takes_the_tenant_s_sender_reply_to_and_colour(acme):
    Branding.objects.create(
        tenant=acme,
        email_sender_name="Acme Partners",
        email_reply_to="partners@acme.test",
        primary_color="#123456",
        support_email="help@acme.test",
    )
    acme.refresh_from_db()
    got = email_branding(acme)
    assert got["sender_name"] == "Acme Partners"
    assert got["reply_to"] == "partners@acme.test"
    assert got["primary_color"] == "#123456"
    assert got["support_email"] == "help@acme.test"


def test_without_branding_the_workspace_name_is_the_sender(acme):
    got = email_branding(acme)
    assert got["sender_name"] == acme.name and got["reply_to"] == ""
