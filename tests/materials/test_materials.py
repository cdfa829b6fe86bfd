"""Marketing materials (partners/materials): uploads checked by content, what each
partner sees (their own link and code filled in), usage counts, clicks through a
material's link, audience, tenant isolation and the audit trail."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from partners.materials import uploads
from partners.materials.demo import PDF, banner_png
from partners.materials.models import Material
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from programs.models import Click, Enrollment, Program, PromoCode
from rewards.models import PartnerGroup
from tests.factories import PartnerFactory, UserFactory


@pytest.fixture
def program(acme):
    return Program.all_tenants_unscoped.create(
        tenant=acme,
        name="Pro",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/\nhttps://shop.example.com/pricing",
    )


@pytest.fixture
def alice(acme, program):
    partner = PartnerFactory(
        tenant=acme, user=UserFactory(email="alice@example.test"), display_name="Alice A"
    )
    Enrollment.all_tenants_unscoped.create(
        tenant=acme, program=program, partner=partner, code="ALICE"
    )
    PromoCode.all_tenants_unscoped.create(
        tenant=acme, program=program, partner=partner, code="ALICE10"
    )
    return partner


def _png(size=(40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


def _post(client, data, name=None, content=None):
    payload = {"audience": "everyone", "is_published": "on", "position": "0", **data}
    if content is not None:
        payload["upload"] = SimpleUploadedFile(name, content)
    return client.client.post(
        "/manage/materials/new/" if "edit" not in data else data.pop("edit"),
        payload,
        HTTP_HOST=client.host,
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
EXE = b"MZ\x90\x00\x03" + b"\x00" * 200 + b"This program cannot be run in DOS mode"


@pytest.mark.parametrize(
    ("kind", "name", "content", "error"),
    [
        ("banner", "evil.svg", SVG, "SVG files are not accepted"),
        ("banner", "evil.png", SVG, "SVG files are not accepted"),
        ("banner", "setup.png", EXE, "not an image we accept"),
        ("banner", "big.png", b"\x89PNG" + b"\x00" * (uploads.MAX_IMAGE_BYTES + 1), "limit"),
        ("banner", "", None, "Upload the file"),
        ("file", "setup.pdf", EXE, "Only PDF and ZIP"),
        ("file", "banner.pdf", _png(), "Only PDF and ZIP"),
        ("file", "broken.zip", b"PK\x03\x04broken", "damaged"),
        ("file", "huge.pdf", b"%PDF-" + b"0" * 64, "limit"),  # with a lowered limit
        ("text", "", None, "Unknown placeholders"),
        ("link", "", None, "landing page"),
    ],
    ids=[
        "svg",
        "svg-named-png",
        "exe-named-png",
        "oversized-image",
        "no-upload",
        "exe-named-pdf",
        "png-named-pdf",
        "broken-zip",
        "oversized-file",
        "unknown-placeholder",
        "link-without-url",
    ],
)
def test_bad_input_is_a_clear_form_error_and_nothing_is_saved(
    acme, owner, client_for, monkeypatch, settings, kind, name, content, error
):
    if name == "huge.pdf":
        monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 32)
    data = {"kind": kind, "title": "Bad"}
    if kind == "text":
        data["body"] = "Go {link} {evil}"
    response = _post(client_for(owner), data, name, content)
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not Material.objects.exists()
        assert not AuditEntry.objects.filter(action__startswith="material").exists()
    folder = settings.MEDIA_ROOT / "materials" / str(acme.pk)
    assert not folder.exists() or not any(folder.iterdir())


def test_staff_publish_and_a_partner_uses_them_with_their_own_link(
    acme, program, alice, owner, manager, client_for, settings
):
    settings.PRM_JOBS_INLINE = True  # clicks written at once
    staff = client_for(manager)
    assert _post(staff, {"kind": "banner", "title": "Wide"}, "wide.png", _png()).status_code == 302
    body = "Try {link} with {promo_code}, says {partner_name}"
    assert _post(staff, {"kind": "text", "title": "Post", "body": body}).status_code == 302
    assert _post(staff, {"kind": "file", "title": "Deck"}, "deck.pdf", PDF).status_code == 302
    assert _post(staff, {"kind": "file", "title": "Kit"}, "kit.zip", _zip()).status_code == 302
    link = {"kind": "link", "title": "Pricing", "landing_url": "https://shop.example.com/pricing"}
    assert _post(staff, link).status_code == 302
    with tenant_scope(acme):
        m = {x.title: x for x in Material.objects.all()}
        assert m["Wide"].file_type == "image/png" and m["Wide"].thumbnail
        assert m["Deck"].file_type == "application/pdf" and m["Kit"].file_type == "application/zip"
        assert AuditEntry.objects.filter(action="material.create").count() == 5

    partner = client_for(alice.user)
    page = partner.get("/materials/").content.decode()
    banner = m["Wide"]
    platform = f"/r/ALICE?m={banner.pk}"
    assert f"&lt;a href=&quot;{acme.base_url}{platform}&quot;&gt;&lt;img src=&quot;" in page
    assert f"/m/{banner.pk}/image" in page and "width=&quot;40&quot;" in page
    assert f"Try {acme.base_url}/r/ALICE?m={m['Post'].pk} with ALICE10, says Alice A" in page
    assert "to=https%3A%2F%2Fshop.example.com%2Fpricing" in page
    # Usage: the page view, a copy (the buttons' beacon), a download.
    assert partner.post(f"/materials/{m['Post'].pk}/copied/").status_code == 200
    download = partner.get(f"/materials/{m['Deck'].pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert "attachment" in download["Content-Disposition"]
    image = client_for(None).get(f"/m/{banner.pk}/image")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    # A click through the banner's link is the material's; a forged marker is ignored.
    visitor = client_for(None)
    redirect = visitor.get(platform)
    assert redirect.status_code == 302 and "m=" not in redirect["Location"]
    assert visitor.get("/r/ALICE?m=not-a-uuid").status_code == 302
    with tenant_scope(acme):
        post, deck = Material.objects.get(pk=m["Post"].pk), Material.objects.get(pk=m["Deck"].pk)
        assert (post.views, post.copies, post.downloads) == (1, 1, 0)
        assert (deck.views, deck.downloads) == (1, 1)
        assert list(Click.objects.values_list("material_id", flat=True).order_by("id")) == [
            banner.pk,
            None,
        ]
    # Staff see usage and clicks per material; the partner sees their clicks by material.
    listing = staff.get("/manage/materials/").content.decode()
    assert "Wide" in listing and "Deck" in listing
    detail = staff.get(f"/manage/materials/{banner.pk}/").content.decode()
    assert re.search(r'id="material-clicks">1<', detail) and "Alice A" in detail
    assert "1 click through your link" in partner.get("/materials/").content.decode()
    stats = partner.get("/stats/").content.decode()
    section = stats[stats.index('id="stats-materials"') :]
    assert re.search(r"<td>Wide</td><td class=\"num\">1</td>", section)
    assert staff.get("/manage/materials/?kind=file&q=De").content.decode().count("Kit") == 0


def test_edit_and_delete_are_audited_and_the_files_go(acme, program, owner, client_for, settings):
    staff = client_for(owner)
    _post(staff, {"kind": "banner", "title": "Old"}, "a.png", _png())
    with tenant_scope(acme):
        material = Material.objects.get()
    path = settings.MEDIA_ROOT / material.file.name
    assert path.exists()
    edit = {"edit": f"/manage/materials/{material.pk}/edit/", "kind": "banner", "title": "New"}
    assert _post(staff, edit).status_code == 302  # the old upload is kept
    # A bad replacement keeps the old file and title.
    edit = {"edit": f"/manage/materials/{material.pk}/edit/", "kind": "banner", "title": "X"}
    assert _post(staff, edit, "x.png", SVG).status_code == 200  # the form, with its error
    with tenant_scope(acme):
        material.refresh_from_db()
        assert material.title == "New" and path.exists()
    assert staff.post(f"/manage/materials/{material.pk}/delete/").status_code == 302
    with tenant_scope(acme):
        assert not Material.objects.exists()
        actions = list(
            AuditEntry.objects.filter(action__startswith="material").values_list(
                "action", flat=True
            )
        )
    assert sorted(actions) == ["material.create", "material.delete", "material.update"]


def test_each_partner_sees_only_what_is_published_to_them(acme, program, alice, client_for):
    group = PartnerGroup.all_tenants_unscoped.create(tenant=acme, name="VIP")
    other = Program.all_tenants_unscoped.create(
        tenant=acme, name="Other", currency="USD", status=Program.Status.ACTIVE
    )
    bob = PartnerFactory(tenant=acme, user=UserFactory(email="bob@example.test"), group=group)

    def make(title, **kw):
        return Material.all_tenants_unscoped.create(
            tenant=acme, kind="link", title=title, landing_url="https://shop.example.com/", **kw
        )

    make("For all")
    make("For Pro", audience="program", program=program)
    make("For Other", audience="program", program=other)
    make("For VIP", audience="group", group=group)
    hidden = make("Hidden", is_published=False)
    alice_page = client_for(alice.user).get("/materials/").content.decode()
    bob_page = client_for(bob.user).get("/materials/").content.decode()
    assert "For all" in alice_page and "For Pro" in alice_page
    assert "For Other" not in alice_page and "For VIP" not in alice_page
    assert "For VIP" in bob_page and "For Pro" not in bob_page and "Hidden" not in bob_page
    assert "Join a program" in bob_page
    assert client_for(alice.user).post(f"/materials/{hidden.pk}/copied/").status_code == 404


def test_another_tenants_materials_answer_404(acme, globex, program, alice, client_for, outsider):
    theirs = Material.all_tenants_unscoped.create(
        tenant=globex, kind="banner", title="Globex banner", file="x.png", file_type="image/png"
    )
    ours = Material.all_tenants_unscoped.create(tenant=acme, kind="text", title="Ours", body="x")
    partner = client_for(alice.user)
    assert "Globex banner" not in partner.get("/materials/").content.decode()
    assert partner.get(f"/materials/{theirs.pk}/download/").status_code == 404
    assert partner.post(f"/materials/{theirs.pk}/copied/").status_code == 404
    assert client_for(None).get(f"/m/{theirs.pk}/image").status_code == 404
    globex_staff = client_for(outsider, "globex.localhost")
    assert globex_staff.get(f"/manage/materials/{ours.pk}/").status_code == 404
    assert globex_staff.post(f"/manage/materials/{ours.pk}/delete/").status_code == 404
    assert "Ours" not in globex_staff.get("/manage/materials/").content.decode()


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [
        ("owner", 200, 200),
        ("admin", 200, 200),
        ("manager", 200, 200),
        ("finance", 200, 403),
        ("analyst", 200, 403),
    ],
)
def test_roles(acme, client_for, role, read, write, request):
    user = request.getfixturevalue(role)
    client = client_for(user)
    assert client.get("/manage/materials/").status_code == read
    assert client.get("/manage/materials/new/").status_code == write


def test_demo_materials_load(acme, program, owner):
    from partners.materials import demo

    with tenant_scope(acme):
        demo.load(acme, program, owner)
        demo.load(acme, program, owner)  # idempotent
        kinds = sorted(Material.objects.values_list("kind", flat=True))
    assert kinds == ["banner", "file", "link", "text"]
    assert banner_png()[:4] == b"\x89PNG"


def test_a_material_click_goes_through_the_redis_buffer_and_the_flush(
    acme, program, alice, client_for, settings
):
    import django_rq

    from programs.services import clicks as clicks_service

    settings.PRM_JOBS_INLINE = False
    stream = django_rq.get_connection("tracking")
    stream.delete(clicks_service.STREAM)
    material = Material.all_tenants_unscoped.create(
        tenant=acme, kind="link", title="L", landing_url="https://shop.example.com/"
    )
    visitor = client_for(None)
    assert visitor.get(f"/r/ALICE?m={material.pk}").status_code == 302
    assert visitor.get("/r/ALICE?m=7e57c0de").status_code == 302  # malformed: no marker
    try:
        assert clicks_service.clicks_flush() == 2
    finally:
        stream.delete(clicks_service.STREAM)
    with tenant_scope(acme):
        markers = sorted(str(m) for m in Click.objects.values_list("material_id", flat=True))
    assert markers == sorted([str(material.pk), "None"])


def test_the_cabinet_page_costs_the_same_queries_with_more_materials(
    acme, program, alice, client_for
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n):
        for i in range(n):
            Material.all_tenants_unscoped.create(
                tenant=acme,
                kind=("text", "link")[i % 2],
                title=f"M{i}",
                body="{link}",
                landing_url="https://shop.example.com/",
                audience=("everyone", "program")[i % 2],
                program=program if i % 2 else None,
            )

    partner = client_for(alice.user)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert partner.get("/materials/").status_code == 200
        return len(captured)

    add(2)
    queries()  # the first request warms the session and the host cache
    few = queries()
    add(8)
    assert queries() == few
