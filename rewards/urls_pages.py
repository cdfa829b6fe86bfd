"""Console and cabinet pages of rewards and payouts (wired into prm.urls_tenant)."""

from __future__ import annotations

from django.urls import URLPattern, path

from rewards.views import cabinet as money_cabinet
from rewards.views import console as money_console
from rewards.views import payouts as money_payouts
from rewards.views import rules as money_rules
from rewards.views import setup as money_setup

console_patterns: list[URLPattern] = [
    # Reward rules, bonuses, groups and money settings of a program
    path(
        "programs/<uuid:program_id>/rewards/", money_rules.program_rewards, name="program_rewards"
    ),
    path(
        "programs/<uuid:program_id>/rewards/rules/new/",
        money_rules.rule_create,
        name="reward_rule_create",
    ),
    path("rewards/rules/<uuid:rule_id>/edit/", money_rules.rule_edit, name="reward_rule_edit"),
    path(
        "rewards/rules/<uuid:rule_id>/deactivate/",
        money_rules.rule_deactivate,
        name="reward_rule_deactivate",
    ),
    path(
        "programs/<uuid:program_id>/rewards/bonuses/new/",
        money_rules.bonus_create,
        name="bonus_rule_create",
    ),
    path("rewards/bonuses/<uuid:bonus_id>/edit/", money_rules.bonus_edit, name="bonus_rule_edit"),
    path(
        "rewards/bonuses/<uuid:bonus_id>/deactivate/",
        money_rules.bonus_deactivate,
        name="bonus_rule_deactivate",
    ),
    path(
        "programs/<uuid:program_id>/rewards/groups/new/",
        money_rules.group_create,
        name="partner_group_create",
    ),
    path(
        "programs/<uuid:program_id>/rewards/groups/assign/",
        money_rules.group_assign,
        name="partner_group_assign",
    ),
    path(
        "programs/<uuid:program_id>/rewards/settings/",
        money_rules.program_money,
        name="program_money",
    ),
    # Rewards and ledgers
    path("rewards/", money_console.reward_list, name="rewards"),
    path("rewards/bulk/", money_console.rewards_bulk, name="rewards_bulk"),
    path("rewards/verify/", money_console.ledger_verify, name="rewards_verify"),
    path("rewards/verify/run/", money_console.ledger_verify_run, name="rewards_verify_run"),
    path("rewards/corrections/", money_console.correction_list, name="corrections"),
    path(
        "rewards/corrections/<uuid:correction_id>/approve/",
        money_console.correction_decide,
        {"decision": "approve"},
        name="correction_approve",
    ),
    path(
        "rewards/corrections/<uuid:correction_id>/reject/",
        money_console.correction_decide,
        {"decision": "reject"},
        name="correction_reject",
    ),
    path("partners/<uuid:partner_id>/ledger/", money_console.partner_ledger, name="partner_ledger"),
    path(
        "partners/<uuid:partner_id>/ledger/adjust/",
        money_console.partner_ledger_adjust,
        name="partner_ledger_adjust",
    ),
    # Exchange rates
    path("rates/", money_setup.rate_list, name="rates"),
    path("rates/add/", money_setup.rate_create, name="rate_create"),
    path("rates/import/", money_setup.rate_import, name="rates_import"),
    # Payouts
    path("payouts/", money_payouts.payout_list, name="payouts"),
    path("payouts/settings/", money_payouts.payout_settings, name="payout_settings"),
    path("payouts/methods/", money_setup.method_list, name="payout_methods"),
    path("payouts/methods/new/", money_setup.method_create, name="payout_method_create"),
    path(
        "payouts/methods/<uuid:method_id>/edit/",
        money_setup.method_edit,
        name="payout_method_edit",
    ),
    path(
        "payouts/methods/<uuid:method_id>/toggle/",
        money_setup.method_toggle,
        name="payout_method_toggle",
    ),
    path("payouts/batches/new/", money_payouts.batch_create, name="payout_batch_create"),
    path("payouts/batches/<uuid:batch_id>/", money_payouts.batch_detail, name="payout_batch"),
    path(
        "payouts/batches/<uuid:batch_id>/export.<str:fmt>",
        money_payouts.batch_export,
        name="payout_batch_export",
    ),
    path(
        "payouts/batches/<uuid:batch_id>/send/", money_payouts.batch_send, name="payout_batch_send"
    ),
    path(
        "payouts/batches/<uuid:batch_id>/paid/", money_payouts.batch_paid, name="payout_batch_paid"
    ),
    path("payouts/<uuid:payout_id>/approve/", money_payouts.payout_approve, name="payout_approve"),
    path("payouts/<uuid:payout_id>/reject/", money_payouts.payout_reject, name="payout_reject"),
    path("payouts/<uuid:payout_id>/paid/", money_payouts.payout_paid, name="payout_paid"),
]
cabinet_patterns: list[URLPattern] = [
    path("earnings/", money_cabinet.earnings, name="earnings"),
    path("payouts/", money_cabinet.payouts, name="payouts"),
    path(
        "payouts/details/<uuid:method_id>/",
        money_cabinet.payout_details_save,
        name="payout_details",
    ),
    path("payouts/withdraw/", money_cabinet.withdraw, name="withdraw"),
    path("payouts/withdraw/confirm/", money_cabinet.withdraw_confirm, name="withdraw_confirm"),
    path("payouts/statement.pdf", money_cabinet.statement_pdf, name="statement_pdf"),
    path(
        "payouts/statement.<str:fmt>",
        money_cabinet.statement_detail,
        name="statement_detail",
    ),
]
