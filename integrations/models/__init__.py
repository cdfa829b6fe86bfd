from integrations.models.connection import CrmConnection, CrmFieldMap, CrmStageMap
from integrations.models.sync import (
    CrmConflict,
    CrmOutbox,
    CrmPartnerLink,
    CrmRecordLink,
    CrmSyncLog,
)

__all__ = [
    "CrmConflict",
    "CrmConnection",
    "CrmFieldMap",
    "CrmOutbox",
    "CrmPartnerLink",
    "CrmRecordLink",
    "CrmStageMap",
    "CrmSyncLog",
]
