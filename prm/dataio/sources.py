"""The console lists that export: each one's rows come from the same function its
list view calls, so an export is exactly the list's filtered rows (all pages)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from prm.dataio.registry import ExportSource, May, Table, queryset_table, register, rows_table
from prm.permissions import Perm


def partners_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from partners.resources import PartnerResource
    from partners.selectors import partner_filters, partners_filtered

    rows = partners_filtered(**partner_filters(params)).select_related(
        "group", "recruited_by__user"
    )
    return queryset_table(PartnerResource(), rows)


def leads_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from programs.resources import LeadResource
    from programs.views.leads import filtered_leads

    return queryset_table(LeadResource(), filtered_leads(params)[1])


def conversions_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from programs.resources import ConversionResource
    from programs.views.conversions import filtered_conversions

    return queryset_table(ConversionResource(), filtered_conversions(params)[1])


def rewards_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from rewards.resources import RewardResource
    from rewards.views.console import filtered_rewards

    return queryset_table(RewardResource(), filtered_rewards(params)[1])


def ledger_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from partners.models import PartnerProfile
    from prm.access import get_in_tenant_or_404
    from rewards.resources import LedgerEntryResource
    from rewards.selectors import ledger_entries

    partner = get_in_tenant_or_404(PartnerProfile, pk=kwargs.get("partner_id", ""))
    return queryset_table(
        LedgerEntryResource(), ledger_entries(partner).select_related("partner__user")
    )


def payouts_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from rewards.resources import PayoutResource
    from rewards.selectors import payouts_in_tab
    from rewards.views.payouts import payout_tab

    return queryset_table(PayoutResource(), payouts_in_tab(payout_tab(params)))


def audit_table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
    from prm.resources import AuditEntryResource
    from prm.views.audit import filtered_entries

    return queryset_table(AuditEntryResource(), filtered_entries(params)[1])


def report_table(kind: str) -> Callable[[QueryDict, dict[str, str], May], Table]:
    """The rows of one report for the list's filters, all pages (reports are a few
    thousand rows at most: one per partner, program, channel value or day)."""

    def table(params: QueryDict, kwargs: dict[str, str], may: May) -> Table:
        from django.utils import timezone

        from prm.tenancy import current_tenant
        from programs.analytics.periods import with_default
        from programs.analytics.refresh import local_day
        from programs.analytics.reports import ReportFilterForm, export_rows, report_rows

        tenant = current_tenant()
        assert tenant is not None  # exports run in the tenant's scope
        form = ReportFilterForm(with_default(params))
        page = report_rows(
            tenant,
            kind,
            form,
            local_day(tenant, timezone.now()),
            money=may(Perm.MONEY_VIEW),
            page_size=None,
        )
        return rows_table(*export_rows(page))

    return table


REPORTS = [
    ("partners", _("Report: by partner")),
    ("programs", _("Report: by program")),
    ("channels", _("Report: by channel")),
    ("quality", _("Report: lead quality")),
    ("periods", _("Report: by period")),
]

LISTS = [
    ExportSource("partners", _("Partners"), Perm.PARTNERS_VIEW, partners_table, "partners"),
    ExportSource("leads", _("Leads"), Perm.LEADS_VIEW, leads_table, "leads"),
    ExportSource(
        "conversions", _("Conversions"), Perm.CONVERSIONS_VIEW, conversions_table, "conversions"
    ),
    ExportSource("rewards", _("Rewards"), Perm.MONEY_VIEW, rewards_table, "rewards"),
    ExportSource("ledger", _("Partner ledger"), Perm.MONEY_VIEW, ledger_table, "partner_ledger"),
    ExportSource("payouts", _("Payouts"), Perm.MONEY_VIEW, payouts_table, "payouts"),
    ExportSource("audit", _("Audit log"), Perm.AUDIT_VIEW, audit_table, "audit"),
]
LISTS += [
    ExportSource(f"report_{kind}", title, Perm.REPORTS_VIEW, report_table(kind), f"report_{kind}")
    for kind, title in REPORTS
]
for source in LISTS:
    register(source)
