"""Branding: the console form (colours, uploads, SVG), what the cabinet shows, the
per-tenant stylesheet and images (safe headers, never another tenant's), e-mails."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from prm.branding import branding_for, contrast, email_logo_url, email_reply_to, email_sender
from prm.models import AuditEntry, Branding, Tenant
from prm.tenancy import tenant_scope

pytestmark = pytest.mark.django_db

VALID = {
    "primary_color": "#1d4ed8",
    "accent_color": "#0e7490",
    "font": "inter",
    "cabinet_title": "Acme Partners",
    "support_email": "help@acme.test",
    "email_sender_name": "Acme partner team",
    "email_reply_to": "partners@acme.test",
}


def png(size: tuple[int, int] = (64, 32), colour: str = "red", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def upload(name: str, content: bytes, kind: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=kind)


_capture = None


@pytest.fixture(autouse=True)
def _commits(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Saves run their on-commit work (storage clean-up, the host cache) at once."""
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield
    _capture = None


def save(client, **extra):  # type: ignore[no-untyped-def]
    assert _capture is not None
    with _capture(execute=True):
        return client.post("/manage/settings/branding/", {**VALID, **extra})


def branding_of(tenant: Tenant) -> Branding:
    with tenant_scope(tenant):
        return Branding.objects.get()


# The form


def test_it_saves_colours_font_and_texts_and_audits_it(client_for, acme, owner):
    response = save(client_for(owner))
    assert response.status_code == 302
    row = branding_of(acme)
    assert (row.primary_color, row.font, row.cabinet_title) == ("#1d4ed8", "inter", "Acme Partners")
    with tenant_scope(acme):
        assert AuditEntry.objects.filter(action="branding.update").count() == 1


@pytest.mark.parametrize("value", ["red", "#12345", "#ggg000", "1d4ed8ff", "#1d4ed8;}", ""])
def test_it_refuses_a_colour_that_is_not_hex(client_for, acme, owner, value):
    response = save(client_for(owner), primary_color=value)
    assert response.status_code == 200
    html = response.content.decode()
    assert "has-error" in html
    assert not Branding.all_tenants_unscoped.filter(tenant=acme).exists()


def test_it_accepts_short_and_unprefixed_hex_and_stores_it_normalised(client_for, acme, owner):
    assert save(client_for(owner), primary_color="ABC", accent_color="#0E7490").status_code == 302
    assert branding_of(acme).primary_color == "#aabbcc"
    assert branding_of(acme).accent_color == "#0e7490"


def test_a_light_primary_colour_saves_with_a_contrast_warning(client_for, acme, owner):
    client = client_for(owner)
    response = save(client, primary_color="#facc15")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "contrast of 1.5:1 with white" in page
    assert round(contrast("#facc15", "#ffffff"), 1) == 1.5


def test_a_logo_is_checked_re_encoded_and_served_with_safe_headers(client_for, acme, owner):
    client = client_for(owner)
    assert save(client, logo=upload("logo.png", png())).status_code == 302
    row = branding_of(acme)
    assert row.logo_type == "image/png" and row.logo.name.startswith(f"branding/{acme.pk}/")
    response = client.get(f"/brand/logo?v={row.version}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "immutable" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(body)).size == (64, 32)
    # An old version's URL is not cached for long.
    assert "immutable" not in client.get("/brand/logo?v=0")["Cache-Control"]


def test_a_jpeg_stays_a_jpeg_and_metadata_is_dropped(client_for, acme, owner):
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "blue").save(out, format="JPEG", comment=b"secret comment")
    assert (
        save(client_for(owner), logo=upload("p.jpg", out.getvalue(), "image/jpeg")).status_code
        == 302
    )
    row = branding_of(acme)
    assert row.logo_type == "image/jpeg"
    with row.logo.open("rb") as stored:
        assert b"secret comment" not in stored.read()


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


@pytest.mark.parametrize(
    ("name", "content", "kind", "message"),
    [
        ("logo.svg", SVG_WITH_SCRIPT, "image/svg+xml", "SVG files are not accepted"),
        ("logo.png", SVG_WITH_SCRIPT, "image/png", "SVG files are not accepted"),  # lies
        ("logo.png", b"<html><script>alert(1)</script></html>", "image/png", "not an image"),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image/png", "not an image"),
        ("logo.pdf", b"%PDF-1.4 hello", "application/pdf", "not an image"),
    ],
    ids=["svg-with-script", "svg-named-png", "html-named-png", "truncated-png", "pdf"],
)
def test_it_refuses_a_file_that_is_not_an_accepted_image(
    client_for, acme, owner, name, content, kind, message
):
    response = save(client_for(owner), logo=upload(name, content, kind))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Branding.all_tenants_unscoped.filter(tenant=acme).exists()


def test_it_refuses_an_oversized_logo_and_favicon(client_for, acme, owner, settings):
    settings.PRM_BRANDING_LOGO_MAX_BYTES = 1000
    noisy = png((300, 300), "white")
    big = io.BytesIO()
    Image.effect_noise((300, 300), 100).convert("RGB").save(big, format="PNG")
    response = save(client_for(owner), logo=upload("big.png", big.getvalue()))
    assert response.status_code == 200
    assert "the limit is 1000" in response.content.decode().replace("\xa0", " ")
    assert len(noisy) > 0


def test_it_refuses_an_image_too_many_pixels_wide(client_for, acme, owner):
    response = save(client_for(owner), favicon=upload("wide.png", png((4000, 10))))
    assert response.status_code == 200
    assert "the limit is 2048 on each side" in response.content.decode()


def test_a_replaced_logo_is_deleted_from_storage_and_remove_clears_it(client_for, acme, owner):
    client = client_for(owner)
    save(client, logo=upload("a.png", png(colour="red")))
    first = branding_of(acme).logo
    storage, first_name = first.storage, first.name
    save(client, logo=upload("b.png", png(colour="green")))
    assert not storage.exists(first_name)
    second = branding_of(acme).logo.name
    save(client, remove_logo="on")
    assert not storage.exists(second)
    assert not branding_of(acme).logo
    assert client.get("/brand/logo").status_code == 404


def test_only_owners_and_admins_open_the_branding_page(client_for, acme, owner, manager, partner):
    assert client_for(owner).get("/manage/settings/branding/").status_code == 200
    assert client_for(manager).get("/manage/settings/branding/").status_code == 403
    assert client_for(partner).get("/manage/settings/branding/").status_code == 403


# What pages show


def test_the_cabinet_sign_in_and_welcome_pages_carry_the_branding(client_for, acme, owner, partner):
    save(client_for(owner), logo=upload("logo.png", png()), favicon=upload("f.png", png((32, 32))))
    version = branding_of(acme).version
    for client, path in (
        (client_for(partner), "/"),
        (client_for(None), "/"),
        (client_for(None), "/accounts/login/"),
        (client_for(None), "/accounts/signup/"),
    ):
        html = client.get(path).content.decode()
        assert f'href="/brand/theme.css?v={version}"' in html, path
        assert f'src="/brand/logo?v={version}"' in html, path
        assert f'<link rel="icon" href="/brand/favicon?v={version}">' in html, path
        assert "/static/css/fonts.css" in html, path
        assert "Acme Partners" in html, path
        assert "help@acme.test" in html, path


def test_the_theme_stylesheet_sets_the_colours_and_font(client_for, acme, owner):
    save(client_for(owner))
    response = client_for(None).get("/brand/theme.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    css = response.content.decode()
    assert "--brand: #1d4ed8;" in css and "--accent: #0e7490;" in css
    assert '--font: "Inter"' in css
    etag = response["ETag"]
    again = client_for(None).get("/brand/theme.css", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304


def test_without_branding_the_defaults_apply_and_no_images_are_served(client_for, acme):
    css = client_for(None).get("/brand/theme.css").content.decode()
    assert "--brand: #4f46e5;" in css
    assert client_for(None).get("/brand/logo").status_code == 404
    assert client_for(None).get("/brand/favicon").status_code == 404
    html = client_for(None).get("/").content.decode()
    assert "/static/css/fonts.css" not in html  # the system font downloads nothing


# Isolation


def test_another_tenants_branding_is_never_served_on_this_host(
    client_for, acme, globex, owner, outsider
):
    save(client_for(owner), logo=upload("logo.png", png()), favicon=upload("f.png", png((16, 16))))
    globex_client = client_for(None, "globex.localhost")
    assert globex_client.get("/brand/logo").status_code == 404
    assert globex_client.get("/brand/favicon").status_code == 404
    assert "#1d4ed8" not in globex_client.get("/brand/theme.css").content.decode()
    html = globex_client.get("/").content.decode()
    assert "/brand/logo" not in html and "Acme Partners" not in html
    # And globex's owner edits only globex's.
    outsider_client = client_for(outsider, "globex.localhost")
    page = outsider_client.get("/manage/settings/branding/").content.decode()
    assert "Acme Partners" not in page
    save(outsider_client, cabinet_title="Globex Partners")
    assert branding_of(acme).cabinet_title == "Acme Partners"
    assert branding_of(globex).cabinet_title == "Globex Partners"


def test_an_outsider_cannot_change_acmes_branding(client_for, acme, outsider):
    response = save(client_for(outsider, "acme.localhost"), cabinet_title="Hacked")
    assert response.status_code == 404
    assert not Branding.all_tenants_unscoped.filter(tenant=acme).exists()


# E-mails


def test_e_mails_carry_the_sender_name_and_reply_to(client_for, acme, owner, settings):
    assert email_sender(acme) == "Acme <noreply@prm.localhost>"
    assert email_reply_to(acme) == []
    save(client_for(owner))
    acme = Tenant.objects.get(pk=acme.pk)
    assert email_sender(acme) == "Acme partner team <noreply@prm.localhost>"
    assert email_reply_to(acme) == ["partners@acme.test"]
    assert branding_for(acme).title == "Acme Partners"
    assert email_logo_url(acme) == ""
    save(client_for(owner), logo=upload("logo.png", png()))
    acme = Tenant.objects.get(pk=acme.pk)
    assert email_logo_url(acme) == f"http://acme.localhost/brand/logo?v={branding_of(acme).version}"


def test_a_team_invitation_goes_out_under_the_tenants_name(
    client_for, acme, owner, run_jobs, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    save(client)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/manage/team/invite/", {"email": "new@acme.test", "role": "analyst"})
    run_jobs()
    assert mail.outbox, "no invitation e-mail"
    message = mail.outbox[-1]
    assert message.from_email == "Acme partner team <noreply@prm.localhost>"
    assert message.reply_to == ["partners@acme.test"]


# Statements (PDF)


def test_the_statement_pdf_carries_the_logo_colour_and_title(client_for, acme, owner):
    from django.utils import timezone

    from rewards.statements import month_of, monthly_statement, statement_html, statement_pdf
    from tests.rewards.helpers import D, make_partner, make_program, rule, sale

    save(client_for(owner), logo=upload("logo.png", png((120, 40), "navy")))
    acme = Tenant.objects.get(pk=acme.pk)
    with tenant_scope(acme):
        program = make_program(acme)
        rule(program, value=D("10"))
        alice = make_partner(acme, program, "ALICE")
        sale(program, alice, "100")
        now = timezone.localtime()
        statement = monthly_statement(alice, month_of(now.year, now.month))
        html = statement_html(statement)
        assert 'src="data:image/png;base64,' in html
        assert "color: #1d4ed8" in html and "Acme Partners" in html
        assert "help@acme.test" in html
        pdf = statement_pdf(statement)
    assert pdf.startswith(b"%PDF") and b"/Image" in pdf


def test_operators_read_brandings_in_the_admin_but_cannot_change_them(client, acme, owner):
    from tests.factories import UserFactory

    operator = UserFactory(email="op@platform.test", is_superuser=True, is_staff=True)
    client.force_login(operator)
    Branding.all_tenants_unscoped.create(tenant=acme, cabinet_title="Acme Partners")
    page = client.get("/ops/admin/prm/branding/", HTTP_HOST="localhost")
    assert page.status_code == 200 and "Acme" in page.content.decode()
    assert client.get("/ops/admin/prm/branding/add/", HTTP_HOST="localhost").status_code == 403


def test_sign_up_e_mails_on_the_tenants_host_are_branded(client_for, acme, owner):
    save(client_for(owner))
    mail.outbox.clear()
    password = "a-long-pass-1"
    client_for(None).post(
        "/accounts/signup/",
        {"email": "newbie@example.test", "password1": password, "password2": password},
    )
    [message] = [m for m in mail.outbox if "newbie@example.test" in m.to]
    assert message.from_email == "Acme partner team <noreply@prm.localhost>"
    assert message.reply_to == ["partners@acme.test"]
    assert message.subject.startswith("[Acme Partners] ")
