from integrations.models.connection import CrmConnection, CrmFieldMap, CrmStageMap
from integrations.models.sync import CrmConflict, CrmOutbox, CrmRecordLink, CrmSyncLog

__all__ = [
    "CrmConflict",
    "CrmConnection",
    "CrmFieldMap",
    "CrmOutbox",
    "CrmRecordLink",
    "CrmStageMap",
    "CrmSyncLog",
]
