"""Encryption of secrets kept in the database (payout details, provider API secrets).

Fernet (AES-128-CBC + HMAC-SHA256) with key rotation:

- PRM_ENCRYPTION_KEY: the key new values are encrypted with (a Fernet key, as printed
  by ``Fernet.generate_key()``). Without it the key is derived from SECRET_KEY, so a
  laptop needs no configuration; production should set it, because rotating SECRET_KEY
  would otherwise make old values unreadable.
- PRM_ENCRYPTION_KEYS_OLD: comma-separated keys that are still tried on decrypt. To
  rotate, move the current key there and set a new PRM_ENCRYPTION_KEY; ``rotate()``
  re-encrypts a value with the current key.
- With the derived key, SECRET_KEY_FALLBACKS are tried on decrypt too, mirroring how
  Django itself rotates SECRET_KEY.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

KEY_ENV = "PRM_ENCRYPTION_KEY"
OLD_KEYS_ENV = "PRM_ENCRYPTION_KEYS_OLD"


# What people are told when a stored secret no longer opens: almost always SECRET_KEY
# changed while PRM_ENCRYPTION_KEY was unset (the key was derived from it).
KEY_CHANGED = _(
    "The stored credentials can no longer be read: the encryption key changed. "
    "Set PRM_ENCRYPTION_KEY to the old key (or put the old key in PRM_ENCRYPTION_KEYS_OLD), "
    "or enter the credentials again."
)


class DecryptionError(ValueError):
    """The token was altered, is not a token, or was made with a key we no longer have.
    Its message is KEY_CHANGED (in the active language), safe to show to people."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or str(KEY_CHANGED))


def key_from_secret(secret: str) -> bytes:
    """The Fernet key derived from a Django SECRET_KEY (HKDF-SHA256)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"prm-fields", info=b"v1").derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(raw)


def _configured_keys() -> tuple[bytes, ...]:
    """The current key first, then the keys that are only tried on decrypt."""
    primary = os.environ.get(KEY_ENV, "").strip()
    old = [k.strip() for k in os.environ.get(OLD_KEYS_ENV, "").split(",") if k.strip()]
    if primary:
        keys = [primary, *old]
    else:
        fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", []) or []
        keys = [
            key_from_secret(settings.SECRET_KEY).decode(),
            *old,
            *(key_from_secret(s).decode() for s in fallbacks),
        ]
    return tuple(k.encode() for k in keys)


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError) as exc:
            # Never echo the key itself: it would end up in logs.
            where = KEY_ENV if position == 0 else OLD_KEYS_ENV
            raise ImproperlyConfigured(
                f"{where} holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes, see Fernet.generate_key())"
            ) from exc
    return MultiFernet(fernets)


def _fernet() -> MultiFernet:
    # Keys are read on every call (cheap, cached by value) so that a changed environment
    # or settings override takes effect without a restart of the test process.
    return _multi_fernet(_configured_keys())


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError() from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the current key (for a re-keying pass over stored rows)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError() from exc


def check_encryption_key(app_configs: object = None, **kwargs: object) -> list:
    """System check: in production, warn when secrets are encrypted with a key derived
    from SECRET_KEY, because changing SECRET_KEY then makes every stored secret (CRM
    credentials, PayPal secrets, payout details) unreadable."""
    from django.core.checks import Warning

    if settings.DEBUG or os.environ.get(KEY_ENV, "").strip():
        return []
    return [
        Warning(
            f"{KEY_ENV} is not set: stored secrets are encrypted with a key derived from "
            "SECRET_KEY, so changing SECRET_KEY makes them unreadable.",
            hint=f"Set {KEY_ENV} to a key from Fernet.generate_key() and keep it; see README.",
            id="prm.W001",
        )
    ]
