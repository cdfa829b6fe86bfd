from rewards.models.budget import ProgramBudget
from rewards.models.checks import LedgerCheck, StatementFile
from rewards.models.corrections import CorrectionRequest
from rewards.models.fx import ExchangeRate
from rewards.models.group import PartnerGroup
from rewards.models.ledger import LedgerEntry, Reward
from rewards.models.payouts import PayoutBatch, PayoutDetails, PayoutMethod, PayoutRequest
from rewards.models.rules import BonusRule, RewardRule

__all__ = [
    "BonusRule",
    "CorrectionRequest",
    "ExchangeRate",
    "LedgerCheck",
    "LedgerEntry",
    "PartnerGroup",
    "PayoutBatch",
    "PayoutDetails",
    "PayoutMethod",
    "PayoutRequest",
    "ProgramBudget",
    "Reward",
    "RewardRule",
    "StatementFile",
]
