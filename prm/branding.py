"""A tenant's branding as pages, PDFs and e-mails use it: one place to read it.

``branding_for(tenant)`` gives the tenant's colours, font, title, logo and favicon URLs,
support address and e-mail sender, with the platform's defaults where the tenant set
nothing. Templates get it as ``branding`` (prm.context_processors.tenancy); e-mails take
``email_sender(tenant)`` / ``email_reply_to(tenant)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.urls import reverse

from prm.models import Branding, Font, Tenant
from prm.models.branding import DEFAULT_ACCENT, DEFAULT_PRIMARY

# CSS font stacks per bundled font (static/css/fonts.css declares the families).
SYSTEM_STACK = 'system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif'
FONT_STACKS = {
    Font.SYSTEM: SYSTEM_STACK,
    Font.INTER: f'"Inter", {SYSTEM_STACK}',
    Font.ROBOTO: f'"Roboto", {SYSTEM_STACK}',
    Font.PT_SANS: f'"PT Sans", {SYSTEM_STACK}',
    Font.OPEN_SANS: f'"Open Sans", {SYSTEM_STACK}',
}
WHITE = "#ffffff"
TEXT = "#1f2937"  # --text in app.css
# WCAG 2.1: 4.5 for body text; 3 for large text and UI parts.
MIN_TEXT_CONTRAST = 4.5
MIN_UI_CONTRAST = 3.0


@dataclass(frozen=True)
class BrandingView:
    """What a page or an e-mail needs of a tenant's branding (defaults filled in)."""

    tenant_name: str
    title: str
    primary: str
    primary_dark: str
    accent: str
    font: str
    font_stack: str
    logo_url: str
    favicon_url: str
    css_url: str
    support_email: str
    sender_name: str
    reply_to: str
    version: int

    @property
    def custom_font(self) -> bool:
        return self.font != Font.SYSTEM


def _row(tenant: Tenant) -> Branding | None:
    # The tenant from the host lookup was loaded with select_related("branding"): no
    # query here. Elsewhere (jobs), one.
    try:
        return tenant.branding  # type: ignore[attr-defined,no-any-return]
    except Branding.DoesNotExist:
        return None


def branding_for(tenant: Tenant) -> BrandingView:
    row = _row(tenant)
    version = row.version if row else 0
    primary = row.primary_color if row else DEFAULT_PRIMARY
    font = row.font if row else Font.SYSTEM

    def asset(name: str, present: bool) -> str:
        if not present:
            return ""
        return reverse(f"branding_{name}", urlconf="prm.urls_tenant") + f"?v={version}"

    return BrandingView(
        tenant_name=tenant.name,
        title=(row.cabinet_title if row else "") or tenant.name,
        primary=primary,
        primary_dark=shade(primary, 0.25),
        accent=row.accent_color if row else DEFAULT_ACCENT,
        font=font,
        font_stack=FONT_STACKS.get(font, SYSTEM_STACK),
        logo_url=asset("logo", bool(row and row.logo)),
        favicon_url=asset("favicon", bool(row and row.favicon)),
        css_url=reverse("branding_css", urlconf="prm.urls_tenant") + f"?v={version}",
        support_email=row.support_email if row else "",
        sender_name=(row.email_sender_name if row else "") or tenant.name,
        reply_to=row.email_reply_to if row else "",
        version=version,
    )


def theme_css(view: BrandingView) -> str:
    """The per-tenant stylesheet: custom properties that app.css reads. Every value is
    a validated hex colour or a stack from FONT_STACKS, never free text."""
    return (
        ":root {\n"
        f"  --brand: {view.primary};\n"
        f"  --brand-dark: {view.primary_dark};\n"
        f"  --accent: {view.accent};\n"
        f"  --font: {view.font_stack};\n"
        "}\n"
    )


# E-mail


def email_sender(tenant: Tenant) -> str:
    """``"Acme partners" <noreply@…>``: the tenant's sender name on the platform's own
    address (a tenant's domain would fail SPF/DKIM; replies go to ``email_reply_to``)."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((branding_for(tenant).sender_name, address))


def email_reply_to(tenant: Tenant) -> list[str]:
    view = branding_for(tenant)
    address = view.reply_to or view.support_email
    return [address] if address else []


# Colours


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def shade(value: str, amount: float) -> str:
    """``value`` darkened by ``amount`` (0..1) towards black."""
    r, g, b = (round(c * (1 - amount)) for c in hex_to_rgb(value))
    return f"#{r:02x}{g:02x}{b:02x}"


def _luminance(value: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in hex_to_rgb(value))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def logo_data_uri(tenant: Tenant) -> str:
    """The logo as a data: URI, for documents that fetch nothing (statement PDFs)."""
    import base64

    row = _row(tenant)
    if row is None or not row.logo or row.logo_type not in ("image/png", "image/jpeg"):
        return ""
    try:
        with row.logo.storage.open(row.logo.name, "rb") as handle:
            data = handle.read(settings.PRM_BRANDING_LOGO_MAX_BYTES + 1)
    except OSError:
        return ""
    if len(data) > settings.PRM_BRANDING_LOGO_MAX_BYTES:
        return ""
    return f"data:{row.logo_type};base64,{base64.b64encode(data).decode()}"


def email_logo_url(tenant: Tenant) -> str:
    """The logo's absolute URL for HTML e-mails ("" without a logo): the slug host, like
    every link the platform makes (prm.public_urls)."""
    from prm.public_urls import tenant_url

    view = branding_for(tenant)
    return tenant_url(tenant, view.logo_url) if view.logo_url else ""
