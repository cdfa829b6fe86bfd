"""The demo's training (prm_demo): the course "Partner basics" — three lessons (one with
a video, one with its own quiz) and a final quiz — required to join the program
"Certified resellers". Alice has read the first lesson. Idempotent."""

from __future__ import annotations

from partners.models import PartnerProfile
from partners.training.models import Choice, Course, Lesson, LessonDone, Question
from prm.models import Tenant
from programs.demo import shop_base_url
from programs.models import Program

LESSONS = [
    (
        "How your referral link works",
        "<p>Your link (or promo code) marks every visitor you send. When they sign up or "
        "buy within the cookie window, the lead and the sale are <strong>yours</strong>.</p>"
        "<ul><li>Share the link from <em>Programs</em>.</li>"
        "<li>Add <code>sub</code> to tell your channels apart.</li></ul>",
        "",
    ),
    (
        "Promoting with the materials",
        "<p>The <em>Materials</em> page has banners and texts with your link already in "
        "them. Copy, paste, done.</p>",
        "https://www.youtube.com/watch?v=aqz-KE-bpKQ",
    ),
    (
        "Getting paid",
        "<p>Rewards are held for the program's hold period, then approved. Add your payout "
        "details under <em>Payouts</em> and withdraw once you reach the minimum.</p>",
        "",
    ),
]


def _question(
    tenant: Tenant, course: Course, lesson: Lesson | None, n: int, text: str, answers: list
) -> None:
    question, created = Question.objects.get_or_create(
        tenant=tenant,
        course=course,
        lesson=lesson,
        text=text,
        defaults={"position": n, "multiple": sum(ok for _a, ok in answers) > 1},
    )
    if created:
        Choice.objects.bulk_create(
            Choice(tenant=tenant, question=question, position=i, text=a, correct=ok)
            for i, (a, ok) in enumerate(answers, start=1)
        )


def load(tenant: Tenant) -> Course:
    """Run inside the tenant's scope."""
    course, _created = Course.objects.get_or_create(
        tenant=tenant,
        title="Partner basics",
        defaults={
            "description": "<p>Twenty minutes on links, materials and payouts.</p>",
            "published": True,
            "pass_mark": 70,
        },
    )
    lessons = []
    for n, (title, body, video) in enumerate(LESSONS, start=1):
        lesson, _ = Lesson.objects.get_or_create(
            tenant=tenant,
            course=course,
            title=title,
            defaults={"position": n, "body": body, "video_url": video},
        )
        lessons.append(lesson)
    _question(
        tenant,
        course,
        lessons[2],
        1,
        "When can you withdraw a reward?",
        [("As soon as it is accrued", False), ("Once it is approved", True)],
    )
    _question(
        tenant,
        course,
        None,
        1,
        "What credits a sale to you?",
        [("Your link", True), ("Your promo code", True), ("The customer's browser", False)],
    )
    _question(
        tenant,
        course,
        None,
        2,
        "Where are banners with your link?",
        [("Materials", True), ("Profile", False), ("Notifications", False)],
    )
    resellers, _ = Program.objects.get_or_create(
        tenant=tenant,
        name="Certified resellers",
        defaults={
            "product": "Acme Pro for resellers",
            "kind": Program.Kind.AFFILIATE,
            "status": Program.Status.ACTIVE,
            "currency": "USD",
            "landing_urls": f"{shop_base_url()}resellers",
        },
    )
    course.required_programs.add(resellers)
    alice = PartnerProfile.objects.filter(user__email="partner@acme.test").first()
    if alice is not None:
        LessonDone.objects.get_or_create(tenant=tenant, partner=alice, lesson=lessons[0])
    return course
