from prm.models.apikey import ApiKey, IdempotentRequest
from prm.models.audit import AuditEntry
from prm.models.branding import Branding, Font
from prm.models.job import Job
from prm.models.membership import Invitation, Membership, Role
from prm.models.tenant import Tenant, TenantDomain
from prm.models.user import User

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Branding",
    "Font",
    "IdempotentRequest",
    "Invitation",
    "Job",
    "Membership",
    "Role",
    "Tenant",
    "TenantDomain",
    "User",
]
