"""What each staff role may do: the one place permissions are decided.

README's "Roles" table is the same matrix in words (per console area: none, read or
write), and tests/prm/test_role_matrix.py checks every console URL against that table.
A change here is a change of the table; a new console page names the ``Perm`` of its
area (``*_VIEW`` to open it, ``*_MANAGE`` to change anything there).
"""

from __future__ import annotations

from enum import StrEnum

from prm.models.membership import Role


class Perm(StrEnum):
    CONSOLE_VIEW = "console.view"
    PROGRAMS_VIEW = "programs.view"
    PROGRAMS_MANAGE = "programs.manage"
    ENROLLMENTS_MANAGE = "enrollments.manage"
    PARTNERS_VIEW = "partners.view"
    PARTNERS_MANAGE = "partners.manage"
    PARTNERS_PRIVACY = "partners.privacy"
    LEADS_VIEW = "leads.view"
    LEADS_MANAGE = "leads.manage"
    CONVERSIONS_VIEW = "conversions.view"
    REPORTS_VIEW = "reports.view"
    MONEY_VIEW = "money.view"
    MONEY_MANAGE = "money.manage"
    TEAM_VIEW = "team.view"
    TEAM_MANAGE = "team.manage"
    SETTINGS_MANAGE = "settings.manage"
    SECURITY_MANAGE = "security.manage"
    AUDIT_VIEW = "audit.view"
    INTEGRATIONS_MANAGE = "integrations.manage"
    ANTIFRAUD_VIEW = "antifraud.view"
    ANTIFRAUD_DECIDE = "antifraud.decide"
    ANTIFRAUD_SETTINGS = "antifraud.settings"
    BLOCKLIST_MANAGE = "blocklist.manage"
    GROUPS_MANAGE = "groups.manage"
    SEGMENTS_MANAGE = "segments.manage"
    CONVERSIONS_IMPORT = "conversions.import"
    SCHEDULED_EXPORTS_VIEW = "scheduled_exports.view"
    SCHEDULED_EXPORTS_MANAGE = "scheduled_exports.manage"
    NEWS_VIEW = "news.view"
    NEWS_MANAGE = "news.manage"
    MATERIALS_VIEW = "materials.view"
    MATERIALS_MANAGE = "materials.manage"
    TRAINING_VIEW = "training.view"
    TRAINING_MANAGE = "training.manage"


ALL_STAFF = frozenset(Role)
OWNERS = frozenset({Role.OWNER})
ADMINS = frozenset({Role.OWNER, Role.ADMIN})

ROLE_PERMISSIONS: dict[Perm, frozenset[Role]] = {
    # Overview, programs (with their reward rules), partners, leads and conversions are
    # read by every role: finance needs the partner and the order behind a reward, the
    # analyst reads everything that is not team data or a secret.
    Perm.CONSOLE_VIEW: ALL_STAFF,
    Perm.PROGRAMS_VIEW: ALL_STAFF,
    Perm.PARTNERS_VIEW: ALL_STAFF,
    Perm.LEADS_VIEW: ALL_STAFF,
    Perm.CONVERSIONS_VIEW: ALL_STAFF,
    # Reports are read by every role; their money columns (rewards accrued, approved,
    # paid, EPC) only by the roles that read money (MONEY_VIEW).
    Perm.REPORTS_VIEW: ALL_STAFF,
    # A program's settings, reward rules, bonuses and groups decide what partners earn:
    # owners and admins. Managers run who is in a program (enrollments, promo codes).
    Perm.PROGRAMS_MANAGE: ADMINS,
    Perm.ENROLLMENTS_MANAGE: ADMINS | {Role.MANAGER},
    Perm.PARTNERS_MANAGE: ADMINS | {Role.MANAGER},
    Perm.LEADS_MANAGE: ADMINS | {Role.MANAGER},
    # A partner's personal data, exported whole (with their rewards, ledger and payouts)
    # or erased for good: the workspace answers such requests through its owners and
    # admins. Managers see no money figures; finance and analysts no full exports.
    Perm.PARTNERS_PRIVACY: ADMINS,
    # Money pages (rewards, ledgers and balances, payouts, batches, payout methods,
    # exchange rates): finance changes them, the analyst reads them, a manager has none.
    Perm.MONEY_VIEW: ADMINS | {Role.FINANCE, Role.ANALYST},
    Perm.MONEY_MANAGE: ADMINS | {Role.FINANCE},
    # Team data (members' e-mails and roles, pending invitations) and the audit log,
    # which names them, stay with owners and admins; so do settings, API keys and CRMs.
    Perm.TEAM_VIEW: ADMINS,
    Perm.TEAM_MANAGE: ADMINS,
    Perm.AUDIT_VIEW: ADMINS,
    Perm.SETTINGS_MANAGE: ADMINS,
    Perm.INTEGRATIONS_MANAGE: ADMINS,
    Perm.SECURITY_MANAGE: OWNERS,
    # Antifraud: the review queue is read by every role; managers (who run partners and
    # leads) and finance (whose money is held) release or reject what it holds. The
    # thresholds and weights decide what is held at all: owners and admins. Block lists
    # are a partner-management tool: admins and managers.
    Perm.ANTIFRAUD_VIEW: ALL_STAFF,
    Perm.ANTIFRAUD_DECIDE: ADMINS | {Role.MANAGER, Role.FINANCE},
    Perm.ANTIFRAUD_SETTINGS: ADMINS,
    Perm.BLOCKLIST_MANAGE: ADMINS | {Role.MANAGER},
    # Partner groups carry reward rules and hold periods (what partners earn and when):
    # owners and admins create them and move partners between them; every role reads
    # them. Segments tag partners (a manager's tool); one that moves partners between
    # groups can only be written by those who may move them (the form hides the choice).
    Perm.GROUPS_MANAGE: ADMINS,
    Perm.SEGMENTS_MANAGE: ADMINS | {Role.MANAGER},
    # A file of conversions records sales and accrues rewards, as the API does: the
    # API's keys are owners' and admins', so is this.
    Perm.CONVERSIONS_IMPORT: ADMINS,
    # Scheduled exports send workspace data out by e-mail or to a URL every period:
    # owners and admins set them up; the analyst, who reads everything, sees them.
    Perm.SCHEDULED_EXPORTS_VIEW: ADMINS | {Role.ANALYST},
    Perm.SCHEDULED_EXPORTS_MANAGE: ADMINS,
    # News for partners: written by those who run partners (managers, owners, admins);
    # every role reads the list.
    Perm.NEWS_VIEW: ALL_STAFF,
    Perm.NEWS_MANAGE: ADMINS | {Role.MANAGER},
    # Marketing materials are what partners promote with: managers (who run partners)
    # publish them with owners and admins; every role sees them and their usage.
    Perm.MATERIALS_VIEW: ALL_STAFF,
    Perm.MATERIALS_MANAGE: ADMINS | {Role.MANAGER},
    # Training courses teach partners and gate programs and payouts: managers write them
    # with owners and admins; every role reads the courses and who passed them.
    Perm.TRAINING_VIEW: ALL_STAFF,
    Perm.TRAINING_MANAGE: ADMINS | {Role.MANAGER},
}


def role_has(role: str | None, perm: Perm) -> bool:
    return role is not None and Role(role) in ROLE_PERMISSIONS[perm]


def assignable_roles(actor_role: str) -> list[Role]:
    """Only an owner hands out (or takes away) the owner role."""
    if actor_role == Role.OWNER:
        return list(Role)
    return [r for r in Role if r != Role.OWNER]
