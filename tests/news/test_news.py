"""News posts: the sanitiser, who sees what, scheduling, the e-mail (once), the unread
marker, refused uploads and tenant isolation. One small world per test (a program, a
group, three partners), no browser: tests/e2e/test_news.py walks the story once."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from partners.models import PartnerProfile
from partners.news.models import Post, PostImage, PostRead
from partners.news.sanitize import clean_html
from partners.news.selectors import unread_count, visible_posts
from partners.news.services import publish_due
from prm.models import AuditEntry, Tenant
from prm.notifications.kinds import Kind
from prm.notifications.models import Notification, NotificationPreference
from prm.tenancy import tenant_scope
from rewards.models import PartnerGroup
from tests.factories import PartnerFactory, UserFactory
from tests.rewards.helpers import make_partner, make_program

HOSTILE = [
    '<script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="java&#x09;script:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    "<svg onload=alert(1)><circle/></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<p onclick="alert(1)" style="background:url(javascript:alert(1))">text</p>',
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name=x></form>',
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "<<script>script>alert(1)<</script>/script>",
    '<object data="x.swf"></object><embed src="x.swf">',
]
FORBIDDEN = [
    "<script",
    "onerror",
    "onload",
    "onclick",
    "javascript:",
    "data:",
    "<iframe",
    "<svg",
    "style",
    "<form",
    "<object",
    "<embed",
    "<img",
    "<math",
]


@pytest.mark.parametrize("html", HOSTILE)
def test_the_sanitiser_strips_what_could_run(html: str) -> None:
    cleaned = clean_html(f"<p>Before</p>{html}<p>After</p>").lower()
    for bad in FORBIDDEN:
        assert bad not in cleaned, (html, cleaned)
    assert "<p>before</p>" in cleaned and "<p>after</p>" in cleaned


def test_the_sanitiser_keeps_the_formatting_a_post_needs() -> None:
    html = (
        '<h2>Title</h2><p><strong>B</strong> <em>I</em> <a href="https://x.example/p">link</a>'
        '</p><ul><li>one</li></ul><a href="mailto:a@b.test">mail</a>'
    )
    cleaned = clean_html(html)
    for kept in ("<h2>", "<strong>", "<em>", 'href="https://x.example/p"', "<li>", "mailto:"):
        assert kept in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned


def png(size: tuple[int, int] = (40, 20)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="PNG")
    return SimpleUploadedFile("pic.png", out.getvalue(), content_type="image/png")


@pytest.fixture
def world(in_acme: Tenant, settings: Any) -> dict[str, Any]:
    settings.PRM_JOBS_INLINE = True
    program = make_program(in_acme, name="Pro")
    other = make_program(in_acme, name="Other")
    group = PartnerGroup.objects.create(tenant=in_acme, name="Gold")
    alice = make_partner(in_acme, program, "ALICE")  # in the program
    bob = make_partner(in_acme, other, "BOB", group=group)  # in the group
    carol = PartnerFactory(tenant=in_acme, user=UserFactory(email="carol@example.test"))
    return {"program": program, "group": group, "alice": alice, "bob": bob, "carol": carol}


def post(tenant: Tenant, title: str, **fields: Any) -> Post:
    now = timezone.now()
    defaults: dict[str, Any] = {"body": "<p>Hello</p>", "publish_at": now, "published_at": now}
    return Post.objects.create(tenant=tenant, title=title, **{**defaults, **fields})


def titles(partner: PartnerProfile) -> set[str]:
    return set(visible_posts(partner).values_list("title", flat=True))


def test_each_partner_sees_the_posts_of_their_audience_only(in_acme, world, client_for):
    program, group = world["program"], world["group"]
    post(in_acme, "all")
    for_program = post(in_acme, "program", audience="program", program=program)
    post(in_acme, "group", audience="group", group=group)
    post(in_acme, "later", publish_at=timezone.now() + timedelta(days=1), published_at=None)
    assert titles(world["alice"]) == {"all", "program"}
    assert titles(world["bob"]) == {"all", "group"}
    assert titles(world["carol"]) == {"all"}
    world["carol"].status = PartnerProfile.Status.BLOCKED
    world["carol"].save()
    assert titles(world["carol"]) == set()
    # Another partner's post answers 404, as does its image; the feed does not list it.
    bob = client_for(world["bob"].user)
    assert bob.get(f"/news/{for_program.pk}/").status_code == 404
    assert bob.get(f"/news/{for_program.pk}/image/").status_code == 404
    feed = bob.get("/news/").content.decode()
    assert "group" in feed and f"/news/{for_program.pk}/" not in feed


def test_the_unread_marker_clears_when_the_post_is_read(in_acme, world, client_for):
    first = post(in_acme, "First news", body="<p>Body one<script>alert(1)</script></p>")
    post(in_acme, "Second news", publish_at=timezone.now() - timedelta(hours=1))
    alice = world["alice"]
    client = client_for(alice.user)
    assert unread_count(alice) == 2
    home = client.get("/").content.decode()
    assert 'id="news-unread"' in home and ">2</span>" in home and "First news" in home
    page = client.get(f"/news/{first.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Body one" in body and "alert(1)" not in body
    assert PostRead.objects.filter(partner=alice).count() == 1
    client.get(f"/news/{first.pk}/")  # twice: still one read
    assert PostRead.objects.filter(partner=alice).count() == 1
    assert unread_count(alice) == 1
    feed = client.get("/news/").content.decode()
    assert ">1</span>" in feed
    assert feed.count('class="card news-item unread"') == 1


def test_a_scheduled_post_is_published_by_the_job_and_emailed_once(
    in_acme, world, django_capture_on_commit_callbacks
):
    alice, carol = world["alice"], world["carol"]
    NotificationPreference.objects.create(
        tenant=in_acme, user=carol.user, muted=[str(Kind.NEWS_POST)]
    )
    due = post(
        in_acme,
        "Due",
        publish_at=timezone.now() - timedelta(minutes=1),
        published_at=None,
        send_email=True,
    )
    future = post(
        in_acme, "Future", publish_at=timezone.now() + timedelta(hours=1), published_at=None
    )
    assert titles(alice) == set()
    mail.outbox.clear()
    for _run in range(2):  # the job again: nothing new
        with tenant_scope(None), django_capture_on_commit_callbacks(execute=True):
            publish_due()
    due.refresh_from_db()
    future.refresh_from_db()
    assert due.published_at is not None and due.emailed_at is not None
    assert future.published_at is None
    assert titles(alice) == {"Due"}
    rows = Notification.objects.filter(kind=Kind.NEWS_POST)
    # Every active partner had a row; carol turned news e-mails off.
    assert rows.count() == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.test", "bob@example.test"]
    assert all("Due" in m.subject for m in mail.outbox)
    assert AuditEntry.objects.filter(action="news.publish", object_id=str(due.pk)).count() == 1


def test_staff_publish_a_post_for_a_program_with_an_image_and_email(
    in_acme, world, manager, client_for, django_capture_on_commit_callbacks
):
    client = client_for(manager)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/manage/news/new/",
            {
                "title": "Launch",
                "body": '<p>New <a href="javascript:alert(1)">plan</a></p><img src=x onerror=1>',
                "audience": "program",
                "program": str(world["program"].pk),
                "group": str(world["group"].pk),  # ignored: the audience is the program
                "when": "now",
                "send_email": "on",
                "image": png(),
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Post.objects.get(title="Launch")
    assert saved.body == '<p>New <a rel="noopener noreferrer nofollow">plan</a></p>'
    assert saved.group is None and saved.published_at is not None
    assert PostImage.objects.get(post=saved).content_type == "image/png"
    assert [m.to[0] for m in mail.outbox] == ["alice@example.test"]
    assert AuditEntry.objects.filter(action="news.create", object_id=str(saved.pk)).exists()
    assert client_for(world["alice"].user).get(f"/news/{saved.pk}/image/").status_code == 200
    # Edited later: not e-mailed again; removed: gone with its image, audited.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/manage/news/{saved.pk}/",
            {"title": "Launch!", "body": "<p>x</p>", "audience": "everyone", "send_email": "on"},
        )
    assert len(mail.outbox) == 1
    assert client.post(f"/manage/news/{saved.pk}/delete/").status_code == 302
    assert not Post.objects.exists() and not PostImage.objects.exists()
    assert AuditEntry.objects.filter(action="news.delete").count() == 1


def _exe() -> SimpleUploadedFile:
    return SimpleUploadedFile("pic.png", b"MZ\x90\x00" + b"\x00" * 200, content_type="image/png")


def _svg() -> SimpleUploadedFile:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    return SimpleUploadedFile("pic.png", svg, content_type="image/png")


def _huge() -> SimpleUploadedFile:
    return SimpleUploadedFile("pic.png", b"\x89PNG" + b"\x00" * (1024 * 1024 + 10))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"image": _exe}, "not an image"),
        ({"image": _svg}, "SVG"),
        ({"image": _huge}, "limit"),
        ({"body": "<script>alert(1)</script>"}, "Write the post"),
        ({"body": "x" * 50_001}, "too long"),
        ({"audience": "program"}, "Choose the program"),
        ({"audience": "group"}, "Choose the group"),
        ({"when": "later"}, "Give the date"),
        ({"when": "later", "publish_at": "2001-01-01T10:00"}, "in the future"),
    ],
    ids=[
        "exe",
        "svg",
        "huge",
        "empty-body",
        "long-body",
        "no-program",
        "no-group",
        "no-time",
        "past",
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_saved(in_acme, admin, client_for, fields, error):
    data: dict[str, Any] = {
        "title": "Bad",
        "body": "<p>ok</p>",
        "audience": "everyone",
        "when": "now",
    }
    data.update({k: v() if callable(v) else v for k, v in fields.items()})
    audited = AuditEntry.objects.count()
    response = client_for(admin).post("/manage/news/new/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Post.objects.exists() and not PostImage.objects.exists()
    assert AuditEntry.objects.count() == audited


def test_another_workspace_sees_none_of_it(in_acme, world, globex, outsider, client_for):
    mine = post(in_acme, "acme only")
    PostImage.objects.create(
        tenant=in_acme, post=mine, content=b"x", content_type="image/png", width=1, height=1
    )
    with tenant_scope(globex):
        stranger = PartnerFactory(tenant=globex, user=UserFactory(email="g@example.test"))
        theirs = post(globex, "globex only")
    client = client_for(stranger.user, "globex.localhost")
    assert "acme only" not in client.get("/news/").content.decode()
    assert "globex only" in client.get("/news/").content.decode()
    for url in (f"/news/{mine.pk}/", f"/news/{mine.pk}/image/"):
        assert client.get(url).status_code == 404
    staff = client_for(outsider, "globex.localhost")
    for url in (f"/manage/news/{mine.pk}/", f"/manage/news/{mine.pk}/image/"):
        assert staff.get(url).status_code == 404
    assert staff.post(f"/manage/news/{mine.pk}/delete/").status_code == 404
    assert Post.objects.filter(pk=mine.pk).exists()
    with tenant_scope(globex):
        assert titles(stranger) == {"globex only"} and theirs.pk


def test_the_feed_pages_through_older_posts(in_acme, world, client_for):
    now = timezone.now()
    Post.objects.bulk_create(
        Post(
            tenant=in_acme,
            title=f"Post {n:02d}",
            body="<p>x</p>",
            publish_at=now - timedelta(hours=n),
            published_at=now,
        )
        for n in range(12)
    )
    client = client_for(world["carol"].user)
    first = client.get("/news/").content.decode()
    assert first.count('class="card news-item') == 10 and "Post 00" in first
    next_link = re.search(r'href="\?([^"]*page=2[^"]*)"', first)
    assert next_link is not None
    second = client.get("/news/?" + next_link.group(1).replace("&amp;", "&")).content.decode()
    assert second.count('class="card news-item') == 2 and "Post 11" in second
