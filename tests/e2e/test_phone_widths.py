"""Every cabinet and console page at 390, 768 and 1280 px, in English and Russian: the
page never scrolls sideways (``scrollWidth <= innerWidth``; wide tables scroll inside
their card). The URL lists come from the URL resolver: every pattern of the cabinet and
the console is either opened here or named in ``NOT_PAGES`` with the reason, and a test
checks that (a new page cannot be forgotten).

Also: a partner walks from sign-up, and another from a staff invitation, to a payout
request on a phone, through the menu button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from antifraud.models import BlockEntry, RiskAssessment
from partners.models import (
    PartnerInvitation,
    PartnerProfile,
    PartnerSegment,
    PartnerTag,
    SignupQuestion,
)
from partners.news.models import Post
from prm.models import ApiKey, Role, Tenant, TenantDomain
from prm.tenancy import tenant_scope
from prm.urls_tenant import console_patterns, partner_patterns
from programs.models import Conversion, Enrollment
from rewards.models import PartnerGroup, PayoutMethod, Reward
from rewards.services.approvals import reward_approve
from tests.dataio.world import build as build_files
from tests.e2e.conftest import TIMEOUT_MS, BrowserLog
from tests.e2e.helpers import Site, shot
from tests.factories import (
    PASSWORD,
    InvitationFactory,
    MembershipFactory,
    TenantFactory,
    UserFactory,
)
from tests.integrations.console_world import build as build_crm
from tests.materials.world import build as build_materials
from tests.rewards.console_world import build as build_money
from tests.rewards.helpers import D, make_program, rule
from tests.training.world import build as build_training
from tests.webhooks.world import build as build_webhooks

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1280)
OWNER = "owner@acme.test"
PARTNER = "alice@example.test"  # the money world's ALICE
# Long names, as people type them: they must wrap, not widen the page.
LONG_PROGRAM = "Партнёрская программа для интернет-магазинов бытовой электроники и техники"
LONG_NAME = "Александра-Екатерина Константинопольская-Преображенская"

# Patterns that are not pages a person opens (the reason is the value).
NOT_PAGES: dict[str, str] = {
    # cabinet
    "partners:my_data": "a JSON download",
    "partners:recruit": "a redirect to sign-up",
    "partners:join": "a partner is sent home; opened anonymously in the public-pages test",
    "partners:program_join": "POST only",
    "partners:promo_code_create": "POST only",
    "partners:deal_register": "POST only",
    "partners:payout_details": "POST only",
    "partners:withdraw": "POST only",
    "partners:withdraw_confirm": "reached by the withdraw form: the walk test opens it",
    "partners:statement_pdf": "a PDF download",
    "partners:statement_detail": "a CSV/XLSX download",
    "partners:invitation": "for the invitee only (a signed-in partner gets 403); tests/partners",
    # console
    "console:partner_search": "a JSON endpoint of the partner search field",
    "console:team_invite": "POST only",
    "console:member_role": "POST only",
    "console:member_remove": "POST only",
    "console:invitation_revoke": "POST only",
    "console:invitation_resend": "POST only",
    "console:partner_status": "POST only",
    "console:partner_data": "a JSON download",
    "console:settings_security": "POST only",
    "console:domain_create": "POST only",
    "console:domain_delete": "POST only",
    "console:program_enroll": "POST only",
    "console:promo_code_create": "POST only",
    "console:enrollment_status": "POST only",
    "console:leads_bulk": "POST only",
    "console:lead_status": "POST only",
    "console:lead_assign": "POST only",
    "console:lead_note": "POST only",
    "console:api_key_create": "POST only",
    "console:api_key_revoke": "POST only",
    "console:reward_rule_deactivate": "POST only",
    "console:bonus_rule_deactivate": "POST only",
    "console:partner_group_create": "POST only",
    "console:partner_group_assign": "POST only",
    "console:rewards_bulk": "POST only",
    "console:rewards_verify_run": "POST only",
    "console:correction_approve": "POST only",
    "console:correction_reject": "POST only",
    "console:partner_ledger_adjust": "POST only",
    "console:rate_create": "POST only",
    "console:rates_import": "POST only",
    "console:payout_method_toggle": "POST only",
    "console:payout_batch_create": "POST only",
    "console:payout_batch_export": "a file download",
    **{
        f"console:{name}_export": "a file download (CSV, XLSX or JSON)"
        for name in ("partners", "leads", "conversions", "rewards", "ledger", "payouts", "audit")
    },
    **{
        f"console:report_{kind}_export": "a file download (CSV, XLSX or JSON)"
        for kind in ("partners", "programs", "channels", "quality", "periods")
    },
    "console:export_download": "a file download",
    "console:scheduled_export_create": "POST only (its form is on the scheduled exports page)",
    "console:scheduled_export_remove": "POST only",
    **{
        f"console:{kind}_import_confirm": "POST only"
        for kind in ("partners", "leads", "conversions")
    },
    "console:payout_batch_send": "POST only",
    "console:payout_batch_paid": "POST only",
    "console:payout_approve": "POST only",
    "console:payout_reject": "POST only",
    "console:payout_paid": "POST only",
    "console:integration_connect": "POST only",
    "console:integration_oauth_start": "a redirect to the CRM",
    "console:integration_oauth_callback": "the CRM's redirect back",
    "console:integration_conflict_resolve": "POST only",
    "console:integration_dead_letter_retry": "POST only",
    "console:integration_action": "POST only",
    "console:antifraud_bulk": "POST only",
    "console:antifraud_rescore": "POST only",
    "console:antifraud_block_add": "POST only",
    "console:antifraud_block_remove": "POST only",
    "console:antifraud_decide": "POST only",
    "console:payout_settings": "POST only",
    "console:program_money": "POST only",
    "console:webhook_delete": "POST only",
    "console:webhook_rotate": "POST only (answers the endpoint's page with the new secret)",
    "console:webhook_test": "POST only",
    "console:webhook_resend": "POST only",
    "console:news_delete": "POST only",
    "console:news_image": "an image",
    "partners:news_image": "an image",
    "console:material_delete": "POST only",
    "console:material_file": "the material's file (an image or a download)",
    "partners:material_download": "a file download",
    "partners:material_copied": "POST only (the copy buttons' beacon)",
    "console:training_delete": "POST only",
    "console:training_lesson_delete": "POST only",
    "console:training_question_delete": "POST only",
    "partners:training_lesson_image": "an image",
    "partners:training_lesson_file": "a file download",
}


def _walk(patterns: list[URLPattern | URLResolver]) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns)
        else:
            yield pattern


def url_names() -> dict[str, URLPattern]:
    names = {f"console:{p.name}": p for p in _walk(console_patterns[0])}
    names.update({f"partners:{p.name}": p for p in _walk(partner_patterns[0])})
    return names


ALL = url_names()
CABINET = sorted(n for n in ALL if n.startswith("partners:") and n not in NOT_PAGES)
CONSOLE = sorted(n for n in ALL if n.startswith("console:") and n not in NOT_PAGES)


def test_every_cabinet_and_console_url_is_opened_or_named_as_not_a_page():
    assert set(NOT_PAGES) <= set(ALL), set(NOT_PAGES) - set(ALL)
    assert len(CABINET) >= 6 and len(CONSOLE) >= 30


@dataclass
class World:
    tenant: Tenant
    kwargs: dict[str, str]


@pytest.fixture
def world(site: Site) -> World:
    acme = TenantFactory(name="Acme", slug="acme")
    owner = MembershipFactory(tenant=acme, role=Role.OWNER, user=UserFactory(email=OWNER)).user
    target = MembershipFactory(
        tenant=acme, role=Role.MANAGER, user=UserFactory(email="target@acme.test")
    )
    invitation = InvitationFactory(tenant=acme, email="invitee@example.test")
    domain = TenantDomain.all_tenants_unscoped.create(
        tenant=acme, domain="partners.acme.com", is_verified=True
    )
    money = build_money(acme, owner)
    crm = build_crm(acme)
    _, prefix, digest = ApiKey.generate()
    key = ApiKey.all_tenants_unscoped.create(tenant=acme, name="k", prefix=prefix, key_hash=digest)
    with tenant_scope(acme):
        money.program.name = LONG_PROGRAM
        money.program.save()
        PartnerProfile.objects.filter(pk=money.alice.pk).update(display_name=LONG_NAME)
        enrollment = Enrollment.objects.filter(partner=money.alice).first()
        conversion = Conversion.objects.filter(partner=money.alice).first()
        # Jobs run inline here, so scoring may have assessed the conversion already.
        assessment, _ = RiskAssessment.objects.update_or_create(
            tenant=acme,
            conversion=conversion,
            defaults={
                "subject": RiskAssessment.Subject.CONVERSION,
                "partner": money.alice,
                "score": 55,
                "level": RiskAssessment.Level.REVIEW,
                "scored_at": timezone.now(),
            },
        )
        entry = BlockEntry.objects.create(tenant=acme, kind="ip", value="203.0.113.9")
        group = PartnerGroup.objects.create(tenant=acme, name="Phone group")
        tag = PartnerTag.objects.create(tenant=acme, name="VIP")
        segment = PartnerSegment.objects.create(
            tenant=acme,
            name="Top",
            metric="revenue",
            comparison="top_percent",
            value=10,
            period_days=30,
            tag=tag,
        )
        question = SignupQuestion.objects.create(tenant=acme, label="Your audience?")
        partner_invitation = PartnerInvitation.objects.create(
            tenant=acme, email="new-partner@example.test", program=money.program
        )
        post = Post.objects.create(
            tenant=acme,
            title=LONG_PROGRAM,
            body=f"<p>{LONG_NAME} https://example.com/{'a' * 80}</p>",
            publish_at=timezone.now(),
            published_at=timezone.now(),
        )
    assert enrollment is not None and conversion is not None
    files = build_files(acme, owner)
    kwargs = {
        **files,
        **build_webhooks(acme, owner),
        **build_materials(acme, owner),
        **build_training(acme, owner, title=LONG_PROGRAM),
        "group_id": group.pk,
        "tag_id": tag.pk,
        "segment_id": segment.pk,
        "question_id": question.pk,
        "partner_invitation_id": partner_invitation.pk,
        "post_id": post.pk,
        "token": partner_invitation.token,
        "membership_id": target.pk,
        "invitation_id": invitation.pk,
        "domain_id": domain.pk,
        "partner_id": money.alice.pk,
        "program_id": money.program.pk,
        "enrollment_id": enrollment.pk,
        "lead_id": crm["lead"],
        "conversion_id": conversion.pk,
        "key_id": key.pk,
        "rule_id": money.rule.pk,
        "bonus_id": money.bonus.pk,
        "method_id": money.card.pk,
        "batch_id": money.batch.pk,
        "payout_id": money.requested.pk,
        "assessment_id": assessment.pk,
        "entry_id": entry.pk,
        "provider": "amocrm",
        "conflict_id": crm["conflict"],
        "row_id": crm["dead"],
        "fmt": "csv",
        "action": "pause",
    }
    return World(acme, {k: str(v) for k, v in kwargs.items()})


def path_of(world: World, name: str) -> str:
    keys = re.findall(r"<(?:\w+:)?(\w+)>", str(ALL[name].pattern))
    return reverse(name, urlconf="prm.urls_tenant", kwargs={k: world.kwargs[k] for k in keys})


def phone(browser: Browser, language: str, base: str) -> Page:
    context = browser.new_context(
        locale="ru-RU" if language == "ru" else "en-US", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}])
    return context.new_page()


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".topbar .who")).to_have_text(email)


def too_wide(page: Page) -> list[str]:
    """The widths (of WIDTHS) at which the page scrolls sideways, with the culprit."""
    problems = []
    page.wait_for_load_state("load")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        over = _measure(page)
        if over:
            problems.append(f"{width}px: {over}")
    page.set_viewport_size({"width": 390, "height": 844})
    return problems


def _measure(page: Page) -> str | None:
    """The overflow at the current width; measured again when a navigation started by
    the last click replaced the document meanwhile."""
    for _attempt in range(3):
        try:
            return _overflow(page)
        except PlaywrightError:
            page.wait_for_load_state("load")
    return _overflow(page)


def _overflow(page: Page) -> str | None:
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
              const w = window.innerWidth;
              if (document.documentElement.scrollWidth <= w) return null;
              const wide = [...document.querySelectorAll('body *')].find(
                e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap, .table'));
              return document.documentElement.scrollWidth + ' > ' + w + ' (' +
                (wide ? wide.tagName + '.' + wide.className + ' ' + wide.id : '?') + ')';
            }"""
    )


def check_pages(page: Page, base: str, world: World, names: list[str], language: str) -> None:
    failures = []
    for name in names:
        path = path_of(world, name)
        response = page.goto(base + path)
        if response is None or response.status != 200:
            failures.append(f"{name} {path}: HTTP {response.status if response else '?'}")
            continue
        assert page.locator("html").get_attribute("lang") == language, path
        failures += [f"{name} {path}: {p}" for p in too_wide(page)]
        shot(page, f"phone-{language}-{name.replace(':', '-')}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_cabinet_page_fits_a_phone(browser, browser_log, site, world, language):  # type: ignore[no-untyped-def]
    base = site.tenant("acme")
    page = phone(browser, language, base)
    page.on("pageerror", browser_log.on_page_error)
    sign_in(page, base, PARTNER)
    check_pages(page, base, world, CABINET, language)
    assert not browser_log.problems()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_console_page_fits_a_phone(browser, browser_log, site, world, language):  # type: ignore[no-untyped-def]
    base = site.tenant("acme")
    page = phone(browser, language, base)
    page.on("pageerror", browser_log.on_page_error)
    sign_in(page, base, OWNER)
    check_pages(page, base, world, CONSOLE, language)
    assert not browser_log.problems()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_public_pages_fit_a_phone(browser, site, world, language):  # type: ignore[no-untyped-def]
    base = site.tenant("acme")
    page = phone(browser, language, base)
    failures = []
    public = ("/", "/join/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/")
    for path in public:
        page.goto(base + path)
        failures += [f"{path}: {p}" for p in too_wide(page)]
    page.goto(site.platform + "/")
    failures += [f"platform /: {p}" for p in too_wide(page)]
    assert not failures, "\n".join(failures)


def test_a_partner_signs_up_joins_and_asks_for_a_payout_on_a_phone(
    browser: Browser, browser_log: BrowserLog, site: Site
):
    """Sign-up on the tenant host (main's partner path), e-mail confirmation, the next
    steps on the home page, joining a program, payout details, a withdrawal: at 390 px
    through the menu button, every page without sideways scrolling."""
    from django.core import mail

    from tests.e2e.helpers import last_link

    acme = TenantFactory(name="Acme", slug="acme")
    with tenant_scope(acme):
        program = make_program(acme, name=LONG_PROGRAM)
        rule(program, value=D("10"))
        card = PayoutMethod.objects.create(
            tenant=acme, kind="card", name="Visa card", currency="USD", minimum=D("5")
        )
    base = site.tenant("acme")
    page = phone(browser, "en", base)
    page.on("pageerror", browser_log.on_page_error)
    email = "newbie@example.test"

    page.goto(base + "/")
    assert not too_wide(page)
    expect(page.locator("#offers")).to_contain_text("10% of the sale")
    page.locator(".hero").get_by_role("link", name="Become a partner").click()
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign up$", re.I)).click()
    expect(page).to_have_url(f"{base}/accounts/confirm-email/")
    assert not too_wide(page)
    page.goto(last_link(email))
    page.get_by_role("button", name="Confirm").click()
    # Signed in by the confirmation, on the cabinet home: the next steps, none done.
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("#next-steps")).to_be_visible()
    expect(page.locator("#next-steps li.done")).to_have_count(0)
    assert not too_wide(page)

    # The menu button opens the navigation; its links are big enough to tap.
    menu = page.locator(".js-menu")
    expect(menu).to_be_visible()
    expect(page.locator(".topnav")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    programs_link = page.locator(".topnav").get_by_role("link", name="Programs")
    expect(programs_link).to_be_visible()
    box = programs_link.bounding_box()
    assert box is not None and box["height"] >= 40
    assert menu.bounding_box()["height"] >= 40  # type: ignore[index]
    assert not too_wide(page)
    programs_link.click()

    page.locator("#open-programs").get_by_role("button", name="Join").first.click()
    assert not too_wide(page)
    page.goto(base + "/")
    expect(page.locator("#my-link code").first).to_contain_text("/r/")
    expect(page.locator("#my-link img.qr-code")).to_be_visible()

    # A sale pays 10 %, approved: money to withdraw.
    from tests.rewards.helpers import sale

    with tenant_scope(acme):
        newbie = PartnerProfile.objects.get(user__email=email)
        conversion = sale(program, newbie, "500.00")
        reward_approve(reward=Reward.objects.get(conversion=conversion))

    page.goto(base + "/payouts/")
    assert not too_wide(page)
    method = page.locator(f"#method-{card.pk}")
    method.get_by_label("Card number").fill("4242 4242 4242 4242")
    method.get_by_label("Account holder").fill("New Bie")
    method.get_by_role("button", name="Save details").click()
    withdraw = page.locator("#withdraw-form")
    withdraw.get_by_label("Amount").fill("30")
    withdraw.get_by_role("button", name="Continue").click()
    expect(page.locator("#confirm-amount")).to_have_text("30.00 USD")
    assert not too_wide(page)
    shot(page, "phone-walk-withdraw-confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".messages")).to_contain_text("Payout of 30.00 USD requested.")
    assert not too_wide(page)
    with tenant_scope(acme):
        from rewards.models import PayoutRequest

        assert PayoutRequest.objects.filter(partner=newbie, amount=D("30")).exists()
    # Home: joined and payout details are ticked off.
    page.goto(base + "/")
    expect(page.locator("#next-steps li.done")).to_have_count(3)  # + the first customer
    assert not browser_log.problems()
    assert mail.outbox


def test_an_invited_partner_joins_and_asks_for_a_payout_on_a_phone(
    browser: Browser, browser_log: BrowserLog, site: Site
):
    """The invitation path on a phone: staff invite an address into a program (the
    console's invite page at 390 px), the invitee opens the e-mailed link, chooses a
    password, lands enrolled in the cabinet, adds payout details and asks for a payout;
    no page scrolls sideways."""
    from tests.e2e.helpers import last_link

    acme = TenantFactory(name="Acme", slug="acme")
    owner = MembershipFactory(tenant=acme, role=Role.OWNER, user=UserFactory(email=OWNER)).user
    with tenant_scope(acme):
        program = make_program(acme, name=LONG_PROGRAM)
        rule(program, value=D("10"))
        card = PayoutMethod.objects.create(
            tenant=acme, kind="card", name="Visa card", currency="USD", minimum=D("5")
        )
    base = site.tenant("acme")
    email = "invited@example.test"

    staff = phone(browser, "en", base)
    staff.on("pageerror", browser_log.on_page_error)
    sign_in(staff, base, owner.email)
    staff.goto(base + "/manage/partners/invite/")
    assert not too_wide(staff)
    staff.get_by_label("E-mail addresses").fill(email)
    staff.get_by_label("Program to join").select_option(str(program.pk))
    staff.get_by_role("button", name="Send invitations").click()
    expect(staff.locator(".messages")).to_contain_text("Invitations sent: 1.")
    assert not too_wide(staff)
    staff.context.close()

    page = phone(browser, "en", base)
    page.on("pageerror", browser_log.on_page_error)
    page.goto(last_link(email))
    assert not too_wide(page)
    page.get_by_label("Your name").fill("Ivy Invited")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_role("button", name="Join").click()
    expect(page).to_have_url(re.compile(re.escape(base) + r"/(programs/)?$"))
    with tenant_scope(acme):
        ivy = PartnerProfile.objects.get(user__email=email)
        assert ivy.enrollments.filter(program=program, status="active").exists()
        from tests.rewards.helpers import sale

        reward_approve(reward=Reward.objects.get(conversion=sale(program, ivy, "500.00")))
    page.goto(base + "/payouts/")
    assert not too_wide(page)
    method = page.locator(f"#method-{card.pk}")
    method.get_by_label("Card number").fill("4242 4242 4242 4242")
    method.get_by_label("Account holder").fill("Ivy Invited")
    method.get_by_role("button", name="Save details").click()
    withdraw = page.locator("#withdraw-form")
    withdraw.get_by_label("Amount").fill("30")
    withdraw.get_by_role("button", name="Continue").click()
    expect(page.locator("#confirm-amount")).to_have_text("30.00 USD")
    assert not too_wide(page)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".messages")).to_contain_text("Payout of 30.00 USD requested.")
    assert not too_wide(page)
    assert not browser_log.problems()
