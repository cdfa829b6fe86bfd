"""Two news posts in the demo workspace (prm_demo): one for everyone, with an image,
and one for the partners of the "Pro plan" program. Idempotent."""

from __future__ import annotations

import io
from datetime import timedelta

from django.utils import timezone
from PIL import Image

from partners.news.models import Post, PostImage
from partners.news.sanitize import clean_html
from prm.models import Tenant
from programs.models import Program

WELCOME = """<h2>Welcome aboard</h2>
<p>Thank you for joining <strong>Acme</strong>'s partner program. Your referral link is on
your home page; share it and every customer you bring is <em>yours</em> for the
cookie window.</p>
<ul><li>Add your payout details.</li><li>Share your link or promo code.</li>
<li>Watch your stats grow.</li></ul>
<p>Questions? Write to <a href="mailto:partners@acme.test">partners@acme.test</a>.</p>"""

SPRING = """<p>This month the <strong>Pro plan</strong> pays a <em>25%</em> commission on
annual subscriptions instead of 20%.</p>
<p>Read the <a href="https://example.com/pro-plan">product page</a> to see what changed.</p>"""


def _banner() -> tuple[bytes, int, int]:
    out = io.BytesIO()
    Image.new("RGB", (640, 240), (79, 70, 229)).save(out, format="PNG", optimize=True)
    return out.getvalue(), 640, 240


def load(tenant: Tenant) -> None:
    """Run inside the tenant's scope."""
    now = timezone.now()
    welcome, created = Post.objects.get_or_create(
        tenant=tenant,
        title="Welcome to the Acme partner program",
        defaults={
            "body": clean_html(WELCOME),
            "publish_at": now - timedelta(days=3),
            "published_at": now - timedelta(days=3),
        },
    )
    if created:
        content, width, height = _banner()
        PostImage.objects.create(
            tenant=tenant,
            post=welcome,
            content=content,
            content_type="image/png",
            width=width,
            height=height,
        )
    program = Program.objects.filter(name="Pro plan").first()
    if program is not None:
        Post.objects.get_or_create(
            tenant=tenant,
            title="Pro plan: 25% on annual plans this month",
            defaults={
                "body": clean_html(SPRING),
                "audience": Post.Audience.PROGRAM,
                "program": program,
                "publish_at": now - timedelta(hours=5),
                "published_at": now - timedelta(hours=5),
            },
        )
