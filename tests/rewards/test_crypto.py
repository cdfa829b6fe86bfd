from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from prm import crypto


@pytest.fixture(autouse=True)
def _no_configured_keys(monkeypatch):
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    monkeypatch.delenv(crypto.OLD_KEYS_ENV, raising=False)


def test_it_decrypts_what_it_encrypted():
    token = crypto.encrypt("DE89370400440532013000 — Jürgen")
    assert "DE89" not in token
    assert crypto.decrypt(token) == "DE89370400440532013000 — Jürgen"


def test_the_same_text_encrypts_differently_each_time():
    assert crypto.encrypt("4242424242424242") != crypto.encrypt("4242424242424242")


def test_without_a_configured_key_it_uses_one_derived_from_the_secret_key(settings):
    token = crypto.encrypt("x")
    assert Fernet(crypto.key_from_secret(settings.SECRET_KEY)).decrypt(token.encode()) == b"x"


def test_a_configured_key_takes_over_from_the_derived_one(monkeypatch):
    key = Fernet.generate_key()
    monkeypatch.setenv(crypto.KEY_ENV, key.decode())
    token = crypto.encrypt("secret")
    assert Fernet(key).decrypt(token.encode()) == b"secret"


def test_it_refuses_a_tampered_token_with_a_clear_error():
    token = crypto.encrypt("paypal-secret")
    # Flip one character in the middle of the ciphertext.
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    with pytest.raises(crypto.DecryptionError, match="can no longer be read"):
        crypto.decrypt(tampered)


def test_it_refuses_garbage():
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("not a token")


def test_it_still_decrypts_with_an_old_key_after_rotation(monkeypatch):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv(crypto.KEY_ENV, old.decode())
    before = crypto.encrypt("partner wallet")

    monkeypatch.setenv(crypto.KEY_ENV, new.decode())
    monkeypatch.setenv(crypto.OLD_KEYS_ENV, f"{Fernet.generate_key().decode()}, {old.decode()}")
    assert crypto.decrypt(before) == "partner wallet"
    after = crypto.encrypt("partner wallet")
    assert Fernet(new).decrypt(after.encode()) == b"partner wallet"

    rotated = crypto.rotate(before)
    monkeypatch.delenv(crypto.OLD_KEYS_ENV)
    assert crypto.decrypt(rotated) == "partner wallet"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(before)


def test_it_reads_values_made_with_the_derived_key_after_moving_to_a_configured_key(
    monkeypatch, settings
):
    before = crypto.encrypt("x")
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv(crypto.OLD_KEYS_ENV, crypto.key_from_secret(settings.SECRET_KEY).decode())
    assert crypto.decrypt(before) == "x"


def test_it_follows_a_secret_key_rotation_through_the_fallbacks(settings):
    before = crypto.encrypt("x")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "n" * 40
    assert crypto.decrypt(before) == "x"


def test_a_malformed_key_is_a_configuration_error_that_does_not_echo_it(monkeypatch):
    monkeypatch.setenv(crypto.KEY_ENV, "too-short-to-be-a-key")
    with pytest.raises(ImproperlyConfigured, match=crypto.KEY_ENV) as exc:
        crypto.encrypt("x")
    assert "too-short" not in str(exc.value)
