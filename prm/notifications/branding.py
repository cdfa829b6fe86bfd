"""What an e-mail shows of the workspace: the one hook where branding plugs in.

Until tenant branding (logo, colours, sender name, reply-to) lands, e-mails carry the
workspace's name and the platform's default colour. The branding feature replaces the
body of ``email_branding`` with the tenant's settings; the base e-mail templates and
the sender (From name, Reply-To) read only this dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prm.models import Tenant

DEFAULT_COLOR = "#2563eb"


def email_branding(tenant: Tenant) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "sender_name": tenant.name,
        "reply_to": "",
        "logo_url": "",
        "primary_color": DEFAULT_COLOR,
        "support_email": "",
    }
