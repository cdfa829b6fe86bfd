"""Creating a workspace from the platform's landing page, confirmed by an e-mailed link.

The form asks only a name, an address (slug) and an e-mail, and always answers "check
your e-mail": it never says whether an account exists, and it takes no password, so it
is neither an enumeration nor a password oracle. The e-mail carries a signed, expiring
link (django.core.signing: the request rides in the link, no table). Following it:

- when an account with that address exists, its owner signs in (as that account) and
  confirms; the workspace is created with them as owner;
- otherwise the visitor chooses a password and the account (its address verified by the
  link itself) and the workspace are created together.

Which case applies is decided when the link is followed, not when the form is sent, so
the request path of the form is the same for both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from prm.jobs import job_enqueue
from prm.models import Tenant, User
from prm.services.errors import (
    ACCOUNT_EXISTS,
    WORKSPACE_LINK_EXPIRED,
    WORKSPACE_LINK_INVALID,
    ServiceError,
)
from prm.services.tenants import tenant_create

SALT = "prm.workspace-signup"


@dataclass(frozen=True)
class WorkspaceRequest:
    """What the landing form asked for, carried (signed) by the e-mailed link."""

    name: str
    slug: str
    email: str
    language: str


def workspace_link_token(request: WorkspaceRequest) -> str:
    """The signed, timestamped token of the confirmation link."""
    return signing.dumps(asdict(request), salt=SALT, compress=True)


def workspace_link_read(token: str) -> WorkspaceRequest:
    """The request a link carries; ServiceError when forged, damaged or too old."""
    max_age = settings.PRM_WORKSPACE_LINK_HOURS * 3600
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ServiceError(WORKSPACE_LINK_EXPIRED) from None
    except signing.BadSignature:
        raise ServiceError(WORKSPACE_LINK_INVALID) from None
    try:
        return WorkspaceRequest(**data)
    except TypeError:  # signed by us, but an older shape
        raise ServiceError(WORKSPACE_LINK_INVALID) from None


def workspace_request_send(*, request: WorkspaceRequest) -> None:
    """E-mail the confirmation link to ``request.email`` (after commit, from a job).

    The same call for an existing and a new address: nothing here looks the address up.
    """
    job_enqueue("prm.emails.send_workspace_link", **asdict(request))


def workspace_owner(request: WorkspaceRequest) -> User | None:
    """The existing account the link's address belongs to, if any."""
    return User.objects.filter(email__iexact=request.email).first()


def workspace_create_for_owner(
    *, request: WorkspaceRequest, owner: User, http_request: HttpRequest | None = None
) -> Tenant:
    """Confirmed by the signed-in owner of the link's address."""
    if owner.email.lower() != request.email.lower():
        raise ValueError("the owner must be the link's addressee")
    return tenant_create(
        name=request.name,
        slug=request.slug,
        owner=owner,
        language=request.language,
        request=http_request,
    )


def workspace_create_with_account(
    *, request: WorkspaceRequest, password: str, http_request: HttpRequest | None = None
) -> tuple[Tenant, User]:
    """A new account for the link's address (verified: the link reached it) and its
    workspace, in one transaction: either both exist afterwards or neither."""
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=request.email).exists():
                raise ServiceError(ACCOUNT_EXISTS)
            user = User.objects.create_user(email=request.email, password=password)
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
            tenant = workspace_create_for_owner(
                request=request, owner=user, http_request=http_request
            )
    except IntegrityError:  # the same address registered a moment ago
        raise ServiceError(ACCOUNT_EXISTS) from None
    return tenant, user
