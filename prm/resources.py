"""The audit log as a table (its console list's export; never imported)."""

from __future__ import annotations

from import_export.fields import Field

from prm.dataio.resources import TenantResource
from prm.dataio.widgets import IsoDateTimeWidget, PlainWidget
from prm.models import AuditEntry


def _text(attribute: str, column: str | None = None) -> Field:
    return Field(attribute=attribute, column_name=column or attribute, widget=PlainWidget())


class AuditEntryResource(TenantResource):
    created_at = Field(attribute="created_at", column_name="created_at", widget=IsoDateTimeWidget())
    actor = _text("actor_email", "actor")
    action = _text("action")
    object_type = _text("object_type")
    object_id = _text("object_id")
    object = _text("object_repr", "object")
    before = _text("before")
    after = _text("after")
    ip = _text("ip")

    class Meta:
        model = AuditEntry
        fields = (
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object",
            "before",
            "after",
            "ip",
        )
        export_order = fields
