from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ServiceError(Exception):
    """A business rule said no; ``message`` is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Messages as constants so tests can assert on them.
LAST_OWNER = _("A workspace needs at least one owner.")
ONLY_OWNER_GRANTS_OWNER = _("Only an owner can grant or take away the owner role.")
ALREADY_MEMBER = _("This person is already on the team.")
ALREADY_INVITED = _("An invitation to this address is already pending.")
INVITATION_WRONG_EMAIL = _("This invitation was sent to another e-mail address.")
INVITATION_NOT_PENDING = _("This invitation is no longer valid.")
SLUG_TAKEN = _("This address is taken.")
SLUG_RESERVED = _("This address is reserved.")
DOMAIN_TAKEN = _("This domain is already connected to a workspace.")
INVITATION_EXPIRED = _("This invitation has expired. Ask for a new one.")
WORKSPACE_LINK_INVALID = _("This link is not valid. Copy the whole link from the e-mail.")
WORKSPACE_LINK_EXPIRED = _("This link has expired. Start again to get a new one.")
ACCOUNT_EXISTS = _("An account with this e-mail address exists already: sign in to continue.")
