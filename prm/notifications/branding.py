"""What an e-mail shows of the workspace: the tenant's branding (prm.branding) as the
dict the base e-mail templates and the sender (From name, Reply-To) read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prm.branding import branding_for, email_logo_url, email_reply_to

if TYPE_CHECKING:
    from prm.models import Tenant


def email_branding(tenant: Tenant) -> dict[str, Any]:
    view = branding_for(tenant)
    reply_to = email_reply_to(tenant)
    return {
        "name": view.title,
        "sender_name": view.sender_name,
        "reply_to": reply_to[0] if reply_to else "",
        "logo_url": email_logo_url(tenant),
        "primary_color": view.primary,
        "support_email": view.support_email,
    }
