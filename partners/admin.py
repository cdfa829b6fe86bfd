from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from partners.models import PartnerProfile
from prm.admin import CrossTenantAdmin


@admin.register(PartnerProfile)
class PartnerProfileAdmin(CrossTenantAdmin):
    list_display = ["user", "tenant", "status", "created_at", "erased_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "display_name", "tenant__slug"]
    readonly_fields = ["erased_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # An erased partner stays erased and blocked (partners.privacy.partner_erase).
        if obj is not None and obj.erased_at is not None:
            return [field.name for field in self.model._meta.fields]
        return super().get_readonly_fields(request, obj)
