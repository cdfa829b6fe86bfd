"""Training in Chromium: a manager builds a course with a lesson and a final quiz and
makes it required for a program; a partner who fails the quiz still cannot join, then
passes it (the progress bar fills) and joins."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from prm.models import Role, Tenant
from prm.tenancy import tenant_scope
from programs.models import Enrollment, Program
from tests.e2e.helpers import Site
from tests.e2e.test_branding import sign_in
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(site: Site) -> Tenant:
    tenant = TenantFactory(name="Acme", slug="acme")
    MembershipFactory(tenant=tenant, role=Role.MANAGER, user=UserFactory(email="m@acme.test"))
    PartnerFactory(tenant=tenant, user=UserFactory(email="alice@example.test"))
    Program.all_tenants_unscoped.create(
        tenant=tenant,
        name="Certified",
        currency="USD",
        status=Program.Status.ACTIVE,
        landing_urls="https://shop.example.com/",
    )
    return tenant


def test_a_partner_passes_the_required_course_then_joins(page: Page, site: Site, tenant) -> None:
    base = site.tenant("acme")
    sign_in(page, base, "m@acme.test")
    page.goto(f"{base}/manage/")
    page.locator(".sidebar").get_by_role("link", name="Training").click()
    page.get_by_role("link", name="New course").click()
    form = page.locator("#course-form")
    form.locator("input[name=title]").fill("Reseller basics")
    form.locator("input[name=pass_mark]").fill("100")
    form.get_by_label("Certified").check()
    form.locator("input[name=published]").check()
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Course “Reseller basics” saved.")

    page.get_by_role("link", name="Add a lesson").click()
    lesson = page.locator("#lesson-form")
    lesson.locator("input[name=title]").fill("Our product")
    lesson.locator("textarea[name=body]").fill("<p>Acme Pro tracks projects.</p>")
    lesson.locator("input[name=video_url]").fill("https://youtu.be/aqz-KE-bpKQ")
    lesson.get_by_role("button", name="Save").click()

    page.get_by_role("link", name="Add a question").click()
    question = page.locator("#question-form")
    question.locator("input[name=text]").fill("What does Acme Pro track?")
    question.locator("input[name=answer_0]").fill("Projects")
    question.locator("input[name=answer_1]").fill("Weather")
    question.get_by_role("button", name="Save").click()
    expect(page.locator(".errors")).to_contain_text("Mark the right answer")
    question.locator("input[name=right_0]").check()
    question.get_by_role("button", name="Save").click()
    expect(page.locator("#final-quiz")).to_contain_text("What does Acme Pro track?")

    sign_in(page, base, "alice@example.test")
    page.goto(f"{base}/programs/")
    row = page.locator("#open-programs tr", has_text="Certified")
    expect(row).to_contain_text("Pass first:")
    row.get_by_role("link", name="Reseller basics").click()
    expect(page.locator("#final-quiz")).to_contain_text("Finish every lesson first.")
    page.get_by_role("link", name="Our product").click()
    expect(page.locator("iframe.lesson-video")).to_have_attribute(
        "src", "https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ"
    )
    page.get_by_role("button", name="I have read this lesson").click()
    quiz = page.locator("#final-quiz")
    quiz.get_by_label("Weather").check()
    quiz.get_by_role("button", name="Submit answers").click()
    expect(page.locator(".messages")).to_contain_text("not enough to pass")
    page.goto(f"{base}/programs/")
    expect(page.locator("#open-programs tr", has_text="Certified")).to_contain_text("Pass first:")

    page.goto(f"{base}/training/")
    page.get_by_role("link", name="Reseller basics").click()
    quiz = page.locator("#final-quiz")
    quiz.get_by_label("Projects").check()
    quiz.get_by_role("button", name="Submit answers").click()
    expect(page.locator(".messages")).to_contain_text("You passed the course with 100%")
    expect(page.locator("#course-progress progress")).to_have_attribute("value", "100")
    page.goto(f"{base}/programs/")
    page.locator("#open-programs tr", has_text="Certified").get_by_role(
        "button", name="Join"
    ).click()
    expect(page.locator(".messages")).to_contain_text("You joined Certified.")
    with tenant_scope(tenant):
        assert Enrollment.objects.filter(program__name="Certified").count() == 1
