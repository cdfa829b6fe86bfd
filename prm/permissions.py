"""What each staff role may do: the one place permissions are decided."""

from __future__ import annotations

from enum import StrEnum

from prm.models.membership import Role


class Perm(StrEnum):
    CONSOLE_VIEW = "console.view"
    TEAM_MANAGE = "team.manage"
    SETTINGS_MANAGE = "settings.manage"
    SECURITY_MANAGE = "security.manage"
    AUDIT_VIEW = "audit.view"
    PARTNERS_MANAGE = "partners.manage"
    PROGRAMS_MANAGE = "programs.manage"
    LEADS_MANAGE = "leads.manage"
    MONEY_MANAGE = "money.manage"
    REPORTS_VIEW = "reports.view"
    INTEGRATIONS_MANAGE = "integrations.manage"


ALL_STAFF = frozenset(Role)

ROLE_PERMISSIONS: dict[Perm, frozenset[Role]] = {
    Perm.CONSOLE_VIEW: ALL_STAFF,
    Perm.REPORTS_VIEW: ALL_STAFF,
    Perm.TEAM_MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.SETTINGS_MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.SECURITY_MANAGE: frozenset({Role.OWNER}),
    Perm.AUDIT_VIEW: frozenset({Role.OWNER, Role.ADMIN, Role.ANALYST}),
    Perm.PARTNERS_MANAGE: frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER}),
    Perm.PROGRAMS_MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.LEADS_MANAGE: frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER}),
    Perm.MONEY_MANAGE: frozenset({Role.OWNER, Role.ADMIN, Role.FINANCE}),
    Perm.INTEGRATIONS_MANAGE: frozenset({Role.OWNER, Role.ADMIN}),
}


def role_has(role: str | None, perm: Perm) -> bool:
    return role is not None and Role(role) in ROLE_PERMISSIONS[perm]


def assignable_roles(actor_role: str) -> list[Role]:
    """Only an owner hands out (or takes away) the owner role."""
    if actor_role == Role.OWNER:
        return list(Role)
    return [r for r in Role if r != Role.OWNER]
