"""The role matrix, page by page: every console URL, opened as every staff role, answers
what README's "Roles" table says (200 where the role may, 403 where it may not), and the
pages a role opens link only to pages it may open and show only the forms it may send.

The table is read from README itself, so README, prm/permissions.py and this test cannot
drift apart. Every console URL name must have a row in ``URLS`` (one line: the README
area it belongs to and whether it reads or writes): a new page nobody classified fails
``test_every_console_url_is_in_the_matrix``.

One world is seeded per module (inside a transaction rolled back at the end) and every
request runs in a savepoint that is rolled back, so a write that goes through (an owner
removing a member, say) does not change what the next case sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, resolve, reverse
from django.utils import timezone

from antifraud.models import BlockEntry, RiskAssessment
from partners.models import PartnerInvitation, PartnerSegment, PartnerTag, SignupQuestion
from partners.news.models import Post, PostImage
from prm.models import ApiKey, AuditEntry, Role, Tenant, TenantDomain, User
from prm.tenancy import tenant_scope
from prm.urls_tenant import console_patterns
from programs.analytics.refresh import rollups_rebuild
from programs.models import Conversion, Enrollment
from rewards.models import CorrectionRequest, PartnerGroup
from tests.dataio.world import build as build_files
from tests.factories import InvitationFactory, MembershipFactory, TenantFactory, UserFactory
from tests.integrations.console_world import build as build_crm
from tests.materials.world import build as build_materials
from tests.rewards.console_world import build as build_money
from tests.training.world import build as build_training
from tests.webhooks.world import build as build_webhooks

# A 1×1 PNG (a news post's image).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)
README = Path(__file__).resolve().parents[2] / "README.md"
ROLES = [role.value for role in Role]


class Level(StrEnum):
    NONE = "—"
    READ = "read"
    WRITE = "write"


class Does(StrEnum):
    READS = "reads"  # opening it is reading its area
    WRITES = "writes"  # it changes something, or shows what only writers may see


R, W = Does.READS, Does.WRITES

# Every console URL name: (its area in README's table, whether it reads or writes).
URLS: dict[str, tuple[str, Does]] = {
    "dashboard": ("Overview", R),
    # Team
    "team": ("Team and invitations", R),
    "team_invite": ("Team and invitations", W),
    "member_role": ("Team and invitations", W),
    "member_remove": ("Team and invitations", W),
    "invitation_revoke": ("Team and invitations", W),
    "invitation_resend": ("Team and invitations", W),
    # Partners
    "partners": ("Partners", R),
    "partner_search": ("Partners", R),  # the JSON behind partner fields
    "partner_status": ("Partners", W),
    "partner_detail": ("Partners", R),
    "partner_new": ("Partners", W),
    "partner_invite": ("Partners", W),
    "partners_bulk": ("Partners", W),
    "partner_invitation_resend": ("Partners", W),
    "partner_invitation_revoke": ("Partners", W),
    "partner_edit": ("Partners", W),
    "partner_change_status": ("Partners", W),
    "partner_note": ("Partners", W),
    "partner_tag": ("Partners", W),
    "tags": ("Partners", R),
    "tag_create": ("Partners", W),
    "tag_edit": ("Partners", W),
    # Partner groups and segments
    "partner_group": ("Partner groups", W),
    "groups": ("Partner groups", R),
    "group_create": ("Partner groups", W),
    "group_detail": ("Partner groups", R),
    "group_edit": ("Partner groups", W),
    "segments": ("Segments", R),
    "segment_create": ("Segments", W),
    "segment_edit": ("Segments", W),
    "segment_run": ("Segments", W),
    # Sign-up and applications (questions, terms)
    "signup_settings": ("Settings", R),
    "signup_question_create": ("Settings", W),
    "signup_question_edit": ("Settings", W),
    "signup_terms": ("Settings", W),
    # Personal data
    "partner_data": ("Personal data", W),  # the whole export, money figures included
    "partner_erase": ("Personal data", W),
    # Settings
    "settings": ("Settings", R),
    "settings_security": ("Security settings", W),
    "settings_branding": ("Settings", W),
    "domain_create": ("Settings", W),
    "domain_delete": ("Settings", W),
    "audit": ("Audit log", R),
    # Programs
    "programs": ("Programs", R),
    "program_detail": ("Programs", R),
    "program_create": ("Programs", W),
    "program_edit": ("Programs", W),
    "program_enroll": ("Enrollments and promo codes", W),
    "promo_code_create": ("Enrollments and promo codes", W),
    "enrollment_status": ("Enrollments and promo codes", W),
    # Leads and conversions
    "leads": ("Leads", R),
    "lead_detail": ("Leads", R),
    "lead_create": ("Leads", W),
    "leads_bulk": ("Leads", W),
    "lead_status": ("Leads", W),
    "lead_assign": ("Leads", W),
    "lead_note": ("Leads", W),
    "conversions": ("Conversions", R),
    "conversion_detail": ("Conversions", R),
    # Reports
    "report_partners": ("Reports", R),
    "report_programs": ("Reports", R),
    "report_channels": ("Reports", R),
    "report_quality": ("Reports", R),
    "report_periods": ("Reports", R),
    # API keys
    "api_keys": ("API keys", R),
    "api_key_create": ("API keys", W),
    "api_key_revoke": ("API keys", W),
    # Reward rules
    "program_rewards": ("Reward rules", R),
    "reward_rule_create": ("Reward rules", W),
    "reward_rule_edit": ("Reward rules", W),
    "reward_rule_deactivate": ("Reward rules", W),
    "bonus_rule_create": ("Reward rules", W),
    "bonus_rule_edit": ("Reward rules", W),
    "bonus_rule_deactivate": ("Reward rules", W),
    "partner_group_create": ("Reward rules", W),
    "partner_group_assign": ("Reward rules", W),
    "program_money": ("Reward rules", W),
    # Rewards and ledgers
    "rewards": ("Rewards and ledgers", R),
    "partner_ledger": ("Rewards and ledgers", R),
    "rewards_bulk": ("Rewards and ledgers", W),
    "rewards_verify": ("Rewards and ledgers", W),  # runs over the whole ledger
    "partner_ledger_adjust": ("Rewards and ledgers", W),
    "rewards_verify_run": ("Rewards and ledgers", W),
    "corrections": ("Rewards and ledgers", R),
    "correction_approve": ("Rewards and ledgers", W),
    "correction_reject": ("Rewards and ledgers", W),
    # Exchange rates
    "rates": ("Exchange rates", R),
    "rate_create": ("Exchange rates", W),
    "rates_import": ("Exchange rates", W),
    # Payouts, batches and methods
    "payouts": ("Payouts and batches", R),
    "payout_batch": ("Payouts and batches", R),
    "payout_settings": ("Payouts and batches", W),
    "payout_batch_create": ("Payouts and batches", W),
    "payout_batch_export": ("Payouts and batches", W),  # full account numbers
    "payout_batch_send": ("Payouts and batches", W),
    "payout_batch_paid": ("Payouts and batches", W),
    "payout_approve": ("Payouts and batches", W),
    "payout_reject": ("Payouts and batches", W),
    "payout_paid": ("Payouts and batches", W),
    "payout_methods": ("Payout methods", R),
    "payout_method_create": ("Payout methods", W),
    "payout_method_edit": ("Payout methods", W),
    "payout_method_toggle": ("Payout methods", W),
    # CRM integrations
    "integrations": ("CRM integrations", R),
    "integration_detail": ("CRM integrations", R),
    "integration_fields": ("CRM integrations", R),
    "integration_stages": ("CRM integrations", R),
    "integration_conflicts": ("CRM integrations", R),
    "integration_dead_letters": ("CRM integrations", R),
    "integration_connect": ("CRM integrations", W),
    "integration_oauth_start": ("CRM integrations", W),
    "integration_oauth_callback": ("CRM integrations", W),
    "integration_conflict_resolve": ("CRM integrations", W),
    "integration_dead_letter_retry": ("CRM integrations", W),
    "integration_action": ("CRM integrations", W),
    # Antifraud
    "antifraud": ("Antifraud review", R),
    "antifraud_item": ("Antifraud review", R),
    "antifraud_bulk": ("Antifraud review", W),
    "antifraud_decide": ("Antifraud review", W),
    "antifraud_settings": ("Antifraud settings", W),
    "antifraud_rescore": ("Antifraud settings", W),
    "antifraud_blocklist": ("Block lists", W),
    "antifraud_block_add": ("Block lists", W),
    "antifraud_block_remove": ("Block lists", W),
    # Notifications: one's own settings (every role), the outbox (owners and admins)
    "my_notifications": ("My notifications", R),
    "notification_outbox": ("E-mail outbox", R),
    # Export (each list's export reads its list) and import
    "partners_export": ("Partners", R),
    "leads_export": ("Leads", R),
    "conversions_export": ("Conversions", R),
    "rewards_export": ("Rewards and ledgers", R),
    "ledger_export": ("Rewards and ledgers", R),
    "payouts_export": ("Payouts and batches", R),
    "audit_export": ("Audit log", R),
    "report_partners_export": ("Reports", R),
    "report_programs_export": ("Reports", R),
    "report_channels_export": ("Reports", R),
    "report_quality_export": ("Reports", R),
    "report_periods_export": ("Reports", R),
    # A big export's page and file: the world's is a partner export (each file also
    # demands its own list's permission: tests/dataio/test_export_jobs.py).
    "export_detail": ("Partners", R),
    "export_download": ("Partners", R),
    "scheduled_exports": ("Scheduled exports", R),
    "scheduled_export_create": ("Scheduled exports", W),
    "scheduled_export_remove": ("Scheduled exports", W),
    "partners_import": ("Partners", W),
    "partners_import_detail": ("Partners", W),
    "partners_import_confirm": ("Partners", W),
    "leads_import": ("Leads", W),
    "leads_import_detail": ("Leads", W),
    "leads_import_confirm": ("Leads", W),
    "conversions_import": ("Conversion import", W),
    "conversions_import_detail": ("Conversion import", W),
    "conversions_import_confirm": ("Conversion import", W),
    # Webhooks: endpoints, their secrets, test events, the delivery log
    "webhooks": ("Webhooks", R),
    "webhook_create": ("Webhooks", W),
    "webhook_detail": ("Webhooks", R),
    "webhook_edit": ("Webhooks", W),
    "webhook_delete": ("Webhooks", W),
    "webhook_rotate": ("Webhooks", W),
    "webhook_test": ("Webhooks", W),
    "webhook_resend": ("Webhooks", W),
    # News for partners
    "news": ("News", R),
    "news_create": ("News", W),
    "news_edit": ("News", W),
    "news_delete": ("News", W),
    "news_image": ("News", R),
    # Marketing materials (partners/materials)
    "materials": ("Materials", R),
    "material_create": ("Materials", W),
    "material_detail": ("Materials", R),
    "material_edit": ("Materials", W),
    "material_delete": ("Materials", W),
    "material_file": ("Materials", R),
    # Training (partners/training)
    "training": ("Training", R),
    "training_create": ("Training", W),
    "training_course": ("Training", R),
    "training_edit": ("Training", W),
    "training_delete": ("Training", W),
    "training_progress": ("Training", R),
    "training_lesson_create": ("Training", W),
    "training_lesson_edit": ("Training", W),
    "training_lesson_delete": ("Training", W),
    "training_question_create": ("Training", W),
    "training_question_edit": ("Training", W),
    "training_question_delete": ("Training", W),
}

# The page the sidebar links for an area (areas without one are reached from a page).
SIDEBAR = {
    "Overview": "dashboard",
    "Partners": "partners",
    "Partner groups": "groups",
    "Segments": "segments",
    "Programs": "programs",
    "Leads": "leads",
    "Conversions": "conversions",
    "Reports": "report_partners",
    "Rewards and ledgers": "rewards",
    "Payouts and batches": "payouts",
    "Exchange rates": "rates",
    "Team and invitations": "team",
    "Settings": "settings",
    "CRM integrations": "integrations",
    "API keys": "api_keys",
    "Audit log": "audit",
    "Antifraud review": "antifraud",
    "My notifications": "my_notifications",
    "Scheduled exports": "scheduled_exports",
    "Webhooks": "webhooks",
    "News": "news",
    "Materials": "materials",
    "Training": "training",
}


def readme_matrix() -> dict[str, dict[str, Level]]:
    """README's Roles table: area -> role -> level."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Roles\n") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[:2] == ["area", "pages"] and header[2:] == ROLES, header
    matrix = {}
    for line in rows[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        matrix[cells[0]] = {role: Level(cell) for role, cell in zip(ROLES, cells[2:], strict=True)}
    return matrix


MATRIX = readme_matrix()


def console_url_names(patterns: list[URLPattern | URLResolver]) -> list[str]:
    names: list[str] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names += console_url_names(pattern.url_patterns)
        elif pattern.name:
            names.append(pattern.name)
    return names


CONSOLE_NAMES = console_url_names(console_patterns[0])


def may(role: str, name: str) -> bool:
    """Whether ``role`` may open (a read) or use (a write) the console URL ``name``."""
    area, does = URLS[name]
    level = MATRIX[area][role]
    return level == Level.WRITE or (does == Does.READS and level == Level.READ)


# The world: acme with one member per role and one row of each kind a console URL names.


@dataclass
class World:
    tenant: Tenant
    staff: dict[str, User]
    kwargs: dict[str, str]  # URL keyword -> a value naming acme's row


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), transaction.atomic():
        acme = TenantFactory(name="Acme", slug="acme")
        staff = {
            role: MembershipFactory(
                tenant=acme, role=role, user=UserFactory(email=f"{role}@acme.test")
            ).user
            for role in ROLES
        }
        target = MembershipFactory(
            tenant=acme, role=Role.MANAGER, user=UserFactory(email="target@acme.test")
        )
        invitation = InvitationFactory(tenant=acme, email="invitee@example.test")
        domain = TenantDomain.all_tenants_unscoped.create(
            tenant=acme, domain="partners.acme.com", is_verified=True
        )
        money = build_money(acme, staff["owner"])
        crm = build_crm(acme)
        _, prefix, digest = ApiKey.generate()
        key = ApiKey.all_tenants_unscoped.create(
            tenant=acme, name="k", prefix=prefix, key_hash=digest
        )
        with tenant_scope(acme):
            enrollment = Enrollment.objects.filter(partner=money.alice).first()
            conversion = Conversion.objects.filter(partner=money.alice).first()
            correction = CorrectionRequest.objects.create(
                tenant=acme,
                key="manual:waiting",
                partner=money.alice,
                kind="adjustment",
                currency="USD",
                amount="9000",
                reason="gift",
                requested_by=staff["owner"],
            )
            # The sale was scored when it was recorded; the matrix wants it under review.
            assessment, _ = RiskAssessment.objects.update_or_create(
                tenant=acme,
                subject=RiskAssessment.Subject.CONVERSION,
                conversion=conversion,
                defaults={
                    "partner": money.alice,
                    "score": 55,
                    "level": RiskAssessment.Level.REVIEW,
                    "scored_at": timezone.now(),
                },
            )
            entry = BlockEntry.objects.create(tenant=acme, kind="ip", value="203.0.113.9")
            group = PartnerGroup.objects.create(tenant=acme, name="People matrix group")
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
                tenant=acme, title="Matrix news", body="<p>Hi</p>", publish_at=timezone.now()
            )
            PostImage.objects.create(
                tenant=acme, post=post, content=PNG, content_type="image/png", width=1, height=1
            )
        assert enrollment is not None and conversion is not None
        # The reports and the Overview read rollups: fill them, so their figures (and the
        # links behind them) are on the pages each role opens.
        rollups_rebuild(acme)
        files = build_files(acme, staff["owner"])
        hooks = build_webhooks(acme, staff["owner"])
        materials = build_materials(acme, staff["owner"])
        kwargs = {
            **hooks,
            **materials,
            **build_training(acme, staff["owner"]),
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
            "correction_id": correction.pk,
            "assessment_id": assessment.pk,
            "entry_id": entry.pk,
            "group_id": group.pk,
            "tag_id": tag.pk,
            "segment_id": segment.pk,
            "question_id": question.pk,
            "partner_invitation_id": partner_invitation.pk,
            "post_id": post.pk,
            "provider": "amocrm",
            "conflict_id": crm["conflict"],
            "row_id": crm["dead"],
            "fmt": "csv",
            **files,
            "action": "pause",
        }
        yield World(acme, staff, {k: str(v) for k, v in kwargs.items()})
        transaction.set_rollback(True)


def url_of(world: World, name: str) -> str:
    pattern = next(p for p in _flat(console_patterns[0]) if p.name == name)
    keys = re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))
    missing = [key for key in keys if key not in world.kwargs]
    assert not missing, f"give the world a row for {missing} (console:{name})"
    kwargs = {key: world.kwargs[key] for key in keys}
    return reverse(f"console:{name}", urlconf="prm.urls_tenant", kwargs=kwargs)


def _flat(patterns: list[URLPattern | URLResolver]) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _flat(pattern.url_patterns)
        else:
            yield pattern


def client_as(world: World, role: str) -> Client:
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(world.staff[role])
    return client


def rolled_back(client: Client, method: str, url: str):  # type: ignore[no-untyped-def]
    """One request whose writes (if it is allowed any) are undone afterwards; a 403
    must have left no trace (every change the console makes is audited)."""
    with transaction.atomic():
        audited = AuditEntry.all_tenants_unscoped.count()
        response = client.get(url) if method == "GET" else client.post(url, {})
        if response.status_code == 403:
            assert AuditEntry.all_tenants_unscoped.count() == audited, f"{method} {url}"
        transaction.set_rollback(True)
    return response


# What the pages show: links and forms that lead into the console.

HREF = re.compile(r'<a\b[^>]*\bhref="(/manage/[^"?#]*)')
FORM = re.compile(r"<form\b[^>]*>", re.IGNORECASE)
ATTR = re.compile(r'\b(action|method)="([^"]*)"', re.IGNORECASE)
SIDEBAR_BLOCK = re.compile(r'<nav class="sidebar".*?</nav>', re.DOTALL)


def console_name(path: str) -> str:
    match = resolve(path, urlconf="prm.urls_tenant")
    assert match.namespace == "console", path
    return match.url_name


def refused_links_and_forms(html: str, role: str) -> list[str]:
    """Links to console pages ``role`` may not open, forms it may not send."""
    problems = []
    for path in set(HREF.findall(html)):
        if not may(role, console_name(path)):
            problems.append(f"link to {path}")
    for tag in FORM.findall(html):
        attrs = {key.lower(): value for key, value in ATTR.findall(tag)}
        action = attrs.get("action", "")
        if not action.startswith("/manage/"):
            continue  # the page's own URL (checked as that URL) or outside the console
        name = console_name(action.split("?")[0])
        if attrs.get("method", "get").lower() == "post":
            area = URLS[name][0]
            if MATRIX[area][role] != Level.WRITE:
                problems.append(f"form posting to {action}")
        elif not may(role, name):
            problems.append(f"form opening {action}")
    return problems


# The tests


def test_every_console_url_is_in_the_matrix():
    unclassified = sorted(set(CONSOLE_NAMES) - set(URLS))
    assert not unclassified, f"add these console URLs to URLS (README area, R or W): {unclassified}"
    assert not set(URLS) - set(CONSOLE_NAMES), "URLS names URLs that no longer exist"
    assert len(CONSOLE_NAMES) == len(set(CONSOLE_NAMES)), "a console URL name is used twice"


def test_every_area_of_the_matrix_is_in_readme_and_has_urls():
    areas = {area for area, _ in URLS.values()}
    assert areas == set(MATRIX), areas ^ set(MATRIX)
    assert set(SIDEBAR) <= set(MATRIX)


def test_the_readme_matrix_keeps_its_promises():
    # What issue 9 decided: no money pages for managers, no team data for finance and
    # analysts, the analyst never writes, the owner does everything.
    money = ["Rewards and ledgers", "Payouts and batches", "Payout methods", "Exchange rates"]
    for area in money:
        assert MATRIX[area]["manager"] == Level.NONE
        assert MATRIX[area]["finance"] == Level.WRITE
        assert MATRIX[area]["analyst"] == Level.READ
    for role in ("manager", "finance", "analyst"):
        assert MATRIX["Team and invitations"][role] == Level.NONE
        assert MATRIX["Audit log"][role] == Level.NONE
        assert MATRIX["API keys"][role] == Level.NONE
    assert all(levels["analyst"] != Level.WRITE for levels in MATRIX.values())
    assert all(levels["owner"] != Level.NONE for levels in MATRIX.values())
    assert MATRIX["Security settings"]["admin"] == Level.NONE
    # Issue 9: a partner's data export and erasure are the owners' and admins' job.
    assert {role for role, level in MATRIX["Personal data"].items() if level != Level.NONE} == {
        "owner",
        "admin",
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", CONSOLE_NAMES)
def test_each_role_gets_what_the_readme_matrix_says(world, db, name, role):
    if name not in URLS:
        pytest.fail(f"console:{name} is not in the role matrix")
    url = url_of(world, name)
    client = client_as(world, role)
    allowed = may(role, name)
    _, does = URLS[name]
    answers = {method: rolled_back(client, method, url) for method in ("GET", "POST")}
    # 405: the URL does not take this method (decided before anyone is looked at).
    statuses = {method: r.status_code for method, r in answers.items() if r.status_code != 405}
    assert statuses, f"{url} takes neither GET nor POST"
    if does == Does.READS:
        assert "GET" in statuses, f"{url} is a page: it must answer GET"
    for method, status in statuses.items():
        if allowed:
            assert status in {200, 302}, f"{role} {method} {url}: {status}, expected 200/302"
        else:
            assert status == 403, f"{role} {method} {url}: {status}, expected 403"
    page = answers["GET"]
    if allowed and page.status_code == 200 and page["Content-Type"].startswith("text/html"):
        problems = refused_links_and_forms(page.content.decode(), role)
        assert not problems, f"{role} on {url} is offered what it may not use: {problems}"


@pytest.mark.parametrize("role", ROLES)
def test_the_sidebar_links_exactly_the_areas_the_role_may_open(world, db, role):
    html = client_as(world, role).get("/manage/").content.decode()
    sidebar = SIDEBAR_BLOCK.search(html)
    assert sidebar is not None
    linked = {console_name(path) for path in HREF.findall(sidebar.group(0))}
    expected = {page for area, page in SIDEBAR.items() if MATRIX[area][role] != Level.NONE}
    assert linked == expected
