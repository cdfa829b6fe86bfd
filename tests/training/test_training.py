"""Training: what staff may save (quizzes with a right answer, checked uploads, clean
HTML, allowed videos), how quizzes are graded, when lessons and courses are passed, and
the gates — a program that requires a course, payouts held until a course is passed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from partners.training.gates import blocked_from_payouts, missing_for_join, missing_for_payout
from partners.training.models import Choice, Course, CoursePass, Lesson, LessonDone, Question
from partners.training.services import course_save, lesson_mark_done, quiz_submit
from partners.training.video import embed_url
from prm.models import AuditEntry
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from programs.services.enrollments import enrollment_create
from rewards.models import PayoutRequest
from rewards.services.payouts import payout_request, scheduled_payouts
from tests.factories import PartnerFactory, UserFactory
from tests.rewards.helpers import D
from tests.rewards.test_ledger import alice, card, earn, program  # noqa: F401 - fixtures
from tests.training.world import build

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)


@pytest.mark.parametrize(
    ("link", "embed"),
    [
        (
            "https://www.youtube.com/watch?v=aqz-KE-bpKQ",
            "https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ",
        ),
        ("https://youtu.be/aqz-KE-bpKQ?t=3", "https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ"),
        ("https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871"),
        (
            "https://rutube.ru/video/c6cc4d620b1d4338901770a44b3e82f4/",
            "https://rutube.ru/play/embed/c6cc4d620b1d4338901770a44b3e82f4",
        ),
        ("https://evil.example/watch?v=aqz-KE-bpKQ", None),
        ("javascript:alert(1)", None),
        ("https://www.youtube.com/watch?v=<script>", None),
        ("https://vimeo.com/../../evil", None),
    ],
)
def test_only_youtube_vimeo_and_rutube_are_embedded_by_their_id(link, embed):
    assert embed_url(link) == embed


@pytest.fixture
def course_world(acme, owner):
    return build(acme, owner)


def _question_post(client, course_id, **data):  # type: ignore[no-untyped-def]
    body = {"lesson": "", "text": "Which?", **data}
    return client.post(f"/manage/training/{course_id}/questions/new/", body)


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ({"answer_0": "A", "answer_1": "B"}, "Mark the right answer"),
        ({"answer_0": "A", "right_0": "on"}, "at least two answers"),
        (
            {"answer_0": "A", "right_0": "on", "answer_1": "B", "right_1": "on"},
            "Only one answer may be right",
        ),
        ({"answer_0": "A", "right_0": "on", "right_1": "on"}, "A right answer needs its text"),
    ],
)
def test_a_question_without_a_fitting_right_answer_is_refused_and_nothing_saved(
    client_for, acme, manager, course_world, answers, error
):
    response = _question_post(client_for(manager), course_world["course_id"], **answers)
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert Question.objects.count() == 1  # the world's own
        assert Choice.objects.count() == 2


def test_a_multiple_choice_question_is_saved_with_its_answers_and_audited(
    client_for, acme, manager, course_world
):
    response = _question_post(
        client_for(manager),
        course_world["course_id"],
        multiple="on",
        answer_0="Link",
        right_0="on",
        answer_1="Promo code",
        right_1="on",
        answer_2="Weather",
    )
    assert response.status_code == 302
    with tenant_scope(acme):
        question = Question.objects.get(text="Which?")
        assert [(c.text, c.correct) for c in question.choices.all()] == [
            ("Link", True),
            ("Promo code", True),
            ("Weather", False),
        ]
        assert AuditEntry.objects.filter(action="training.question_create").exists()


@pytest.mark.parametrize(
    ("upload", "error"),
    [
        (("evil.png", b"MZ\x90\x00" + b"\x00" * 200, "image_upload"), "image"),
        (
            (
                "x.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                "image_upload",
            ),
            "SVG",
        ),
        (("notes.pdf", b"MZ\x90\x00 not a pdf", "file_upload"), "PDF"),
    ],
)
def test_disguised_uploads_are_refused_and_the_lesson_not_saved(
    client_for, acme, manager, course_world, upload, error
):
    name, content, field = upload
    response = client_for(manager).post(
        f"/manage/training/{course_world['course_id']}/lessons/new/",
        {"title": "Bad", "body": "<p>x</p>", field: SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    with tenant_scope(acme):
        assert not Lesson.objects.filter(title="Bad").exists()


def test_lesson_html_is_sanitised_media_saved_and_foreign_videos_refused(
    client_for, acme, manager, course_world
):
    url = f"/manage/training/{course_world['course_id']}/lessons/new/"
    client = client_for(manager)
    refused = client.post(url, {"title": "V", "video_url": "https://evil.example/v.mp4"})
    assert "YouTube, Vimeo or RuTube" in refused.content.decode()
    saved = client.post(
        url,
        {
            "title": "Clean",
            "body": '<p onclick="x()">Hi<script>alert(1)</script></p><img src=x onerror=y>',
            "video_url": "https://youtu.be/aqz-KE-bpKQ",
            "image_upload": SimpleUploadedFile("a.png", PNG),
            "file_upload": SimpleUploadedFile("guide.pdf", b"%PDF-1.4\n%%EOF\n"),
        },
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    with tenant_scope(acme):
        lesson = Lesson.objects.get(title="Clean")
    assert (
        "script" not in lesson.body and "onclick" not in lesson.body and "<img" not in lesson.body
    )
    assert (lesson.image_type, lesson.file_name, lesson.file_type) == (
        "image/png",
        "guide.pdf",
        "application/pdf",
    )


def _course_with_quizzes(tenant, owner):  # type: ignore[no-untyped-def]
    """Two lessons (the second with a quiz) and a final quiz of two questions, one of
    them multiple choice; pass mark 50 %."""
    course = course_save(
        tenant=tenant,
        actor=owner,
        course=Course(title="Basics", published=True, pass_mark=50),
        required_programs=[],
    )
    one = Lesson.objects.create(tenant=tenant, course=course, position=1, title="One")
    two = Lesson.objects.create(tenant=tenant, course=course, position=2, title="Two")

    def question(lesson, text, answers, multiple=False):  # type: ignore[no-untyped-def]
        q = Question.objects.create(
            tenant=tenant, course=course, lesson=lesson, text=text, multiple=multiple
        )
        return q, [
            Choice.objects.create(tenant=tenant, question=q, text=t, correct=ok, position=i)
            for i, (t, ok) in enumerate(answers)
        ]

    quiz = question(two, "Lesson two?", [("yes", True), ("no", False)])
    final = [
        question(None, "Single?", [("a", True), ("b", False)]),
        question(None, "Multiple?", [("x", True), ("y", True), ("z", False)], multiple=True),
    ]
    return course, one, two, quiz, final


def test_quizzes_grade_single_and_multiple_choice_and_pass_lessons_then_the_course(
    acme, owner, partner, client_for
):
    with tenant_scope(acme):
        alice = partner.partner_profiles.get()
        course, one, two, (quiz, qc), final = _course_with_quizzes(acme, owner)
        (single, sc), (multi, mc) = final
        assert lesson_mark_done(tenant=acme, partner=alice, lesson=one) is False
        assert lesson_mark_done(tenant=acme, partner=alice, lesson=two) is False  # its quiz decides
        assert not LessonDone.objects.filter(lesson=two).exists()
        wrong = quiz_submit(
            tenant=acme,
            partner=alice,
            course=course,
            lesson=two,
            answers={str(quiz.pk): {str(qc[1].pk)}},
        )
        assert (wrong.score, wrong.passed, wrong.wrong) == (0, False, [quiz.pk])
        right = quiz_submit(
            tenant=acme,
            partner=alice,
            course=course,
            lesson=two,
            answers={str(quiz.pk): {str(qc[0].pk)}},
        )
        assert right.passed and LessonDone.objects.filter(lesson=two, partner=alice).exists()
        assert not CoursePass.objects.exists()  # the final quiz is still to pass
        # Multiple choice counts only with exactly the right answers: one of two is wrong.
        half = {str(single.pk): {str(sc[1].pk)}, str(multi.pk): {str(mc[0].pk)}}
        graded = quiz_submit(tenant=acme, partner=alice, course=course, lesson=None, answers=half)
        assert (graded.score, graded.passed) == (0, False)
        fifty = {str(single.pk): {str(sc[0].pk)}, str(multi.pk): {str(mc[0].pk), str(mc[2].pk)}}
        graded = quiz_submit(tenant=acme, partner=alice, course=course, lesson=None, answers=fifty)
        assert (graded.score, graded.passed, graded.course_passed) == (50, True, True)
        assert CoursePass.objects.get().partner == alice
    # Staff see the completion per partner on the partner's console page.
    page = client_for(owner).get(f"/manage/partners/{alice.pk}/").content.decode()
    section = page[page.index('id="training"') :]
    assert "Basics" in section and "2 / 2" in section and "badge ok" in section


def test_a_program_that_requires_a_course_refuses_the_join_until_it_is_passed(
    acme, owner, partner, client_for
):
    with tenant_scope(acme):
        alice = partner.partner_profiles.get()
        program = Program.objects.create(
            tenant=acme,
            name="Certified",
            currency="USD",
            status=Program.Status.ACTIVE,
            landing_urls="https://shop.example.com/",
        )
        course = course_save(
            tenant=acme,
            actor=owner,
            course=Course(title="Basics", published=True),
            required_programs=[program],
        )
        Lesson.objects.create(tenant=acme, course=course, title="Only lesson")
        with pytest.raises(ValidationError, match="Basics"):
            enrollment_create(tenant=acme, program=program, partner=alice)
        # Staff may still enroll anyone.
        assert missing_for_join(alice, program) == [course]
    page = client_for(partner).post(f"/programs/{program.pk}/join/", follow=True)
    assert "This program asks you to pass the course “Basics” first" in page.content.decode()
    with tenant_scope(acme):
        assert not Enrollment.objects.filter(partner=alice, program=program).exists()
        lesson_mark_done(tenant=acme, partner=alice, lesson=course.lessons.get())
        assert missing_for_join(alice, program) == []
    client_for(partner).post(f"/programs/{program.pk}/join/")
    with tenant_scope(acme):
        assert Enrollment.objects.filter(partner=alice, program=program).exists()


def test_payouts_wait_for_a_payout_course_by_hand_and_on_schedule(
    in_acme,
    program,  # noqa: F811
    alice,  # noqa: F811
    card,  # noqa: F811
    partner,
    client_for,
):
    earn(program, alice, "500")
    course = Course.objects.create(
        tenant=in_acme,
        title="Payout rules",
        published=True,
        audience=Course.Audience.PROGRAM,
        program=program,
        required_for_payouts=True,
    )
    Lesson.objects.create(tenant=in_acme, course=course, title="Read me")
    with pytest.raises(ValidationError, match="Payout rules"):
        payout_request(tenant=in_acme, partner=alice, method=card, amount=D("30"))
    assert missing_for_payout(alice) == [course]
    # The cabinet's payouts page says so before the partner tries, with the course's link.
    profile = partner.partner_profiles.get()
    enrollment_create(tenant=in_acme, program=program, partner=profile, code="PAGE")
    html = client_for(partner).get("/payouts/").content.decode()
    notice = html[html.index('id="payout-courses"') :]
    assert f'href="/training/{course.pk}/"' in notice.split("</p>")[0]
    assert blocked_from_payouts([alice.pk]) == {alice.pk}
    card.schedule = card.Schedule.MONTHLY
    card.save()
    first = timezone.localdate().replace(day=1)
    assert scheduled_payouts(today=first) == 0
    lesson_mark_done(tenant=in_acme, partner=alice, lesson=course.lessons.get())
    assert blocked_from_payouts([alice.pk]) == set()
    assert scheduled_payouts(today=first) == 1
    assert PayoutRequest.objects.get().partner == alice


def test_another_workspaces_partner_sees_no_course_and_drafts_stay_hidden(
    acme, globex, owner, partner, client_for, course_world
):
    stranger = PartnerFactory(tenant=globex, user=UserFactory(email="s@globex.test")).user
    them = client_for(stranger, "globex.localhost")
    cid, lid = course_world["course_id"], course_world["lesson_id"]
    for path in (f"/training/{cid}/", f"/training/{cid}/lessons/{lid}/"):
        assert them.get(path).status_code == 404
    ours = client_for(partner)
    assert ours.get(f"/training/{cid}/").status_code == 200
    with tenant_scope(acme):
        Course.objects.filter(pk=cid).update(published=False)
    assert ours.get(f"/training/{cid}/").status_code == 404
    assert "Matrix course" not in ours.get("/training/").content.decode()


def test_training_pages_cost_the_same_queries_with_more_courses(
    acme, owner, manager, partner, client_for
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pages = (("console", manager, "/manage/training/"), ("cabinet", partner, "/training/"))
    counts = {}
    for n in (1, 6):
        while int(counts.get("courses", 0)) < n:
            build(acme, owner, title=f"Course {counts.get('courses', 0)}")
            counts["courses"] = int(counts.get("courses", 0)) + 1
        for name, user, path in pages:
            client = client_for(user)
            client.get(path)  # warm the per-process caches (tenant, counters)
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(path).status_code == 200
            counts[(name, n)] = len(ctx)
    assert counts[("console", 1)] == counts[("console", 6)]
    assert counts[("cabinet", 1)] == counts[("cabinet", 6)]
