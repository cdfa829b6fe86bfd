"""Signed unsubscribe tokens: (workspace, person, kind), no expiry, no sign-in needed.

Signed with SECRET_KEY and a salt of their own, so no other signed value of the
platform passes for one, and a token names exactly one kind for one person in one
workspace: changing any part breaks the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core import signing

from prm.notifications.kinds import Kind

SALT = "prm.notifications.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    tenant_id: str
    user_id: int
    kind: str


def unsubscribe_token(*, tenant_id: Any, user_id: Any, kind: str) -> str:
    return signing.dumps([str(tenant_id), int(user_id), str(kind)], salt=SALT, compress=True)


def unsubscribe_read(token: str) -> Unsubscribe | None:
    """The token's content, or None for anything forged, altered or malformed."""
    if not token or len(token) > 500:
        return None
    try:
        value = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not isinstance(value[0], str)
        or not isinstance(value[1], int)
        or value[2] not in Kind.values
    ):
        return None
    return Unsubscribe(tenant_id=value[0], user_id=value[1], kind=value[2])
