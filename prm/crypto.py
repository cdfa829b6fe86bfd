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

KEY_ENV = "PRM_ENCRYPTION_KEY"
OLD_KEYS_ENV = "PRM_ENCRYPTION_KEYS_OLD"


class DecryptionError(ValueError):
    """The token was altered, is not a token, or was made with a key we no longer have."""


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
        raise DecryptionError(
            "cannot decrypt: the value was altered or was encrypted with a key that is not "
            f"configured ({KEY_ENV} / {OLD_KEYS_ENV})"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the current key (for a re-keying pass over stored rows)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            f"cannot re-encrypt: no configured key ({KEY_ENV} / {OLD_KEYS_ENV}) opens the value"
        ) from exc
