"""Helpers of the browser tests: the live server's URLs, links from e-mails, TOTP codes,
screenshots."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from django.core import mail
from playwright.sync_api import Page


@dataclass
class Site:
    """URLs of the live server on the platform host and on tenant hosts."""

    port: int

    @property
    def platform(self) -> str:
        return f"http://localhost:{self.port}"

    def tenant(self, slug: str) -> str:
        return f"http://{slug}.localhost:{self.port}"


def last_link(to: str, pattern: str = r"https?://\S+") -> str:
    """The last link matching ``pattern`` in the newest e-mail sent to ``to``."""
    for message in reversed(mail.outbox):
        if to in message.to:
            links = re.findall(pattern, message.body)
            assert links, f"no link in the e-mail to {to}:\n{message.body}"
            return links[-1]
    raise AssertionError(f"no e-mail to {to}; outbox: {[m.to for m in mail.outbox]}")


def totp_now(secret: str, period: int = 30, digits: int = 6) -> str:
    """The current RFC 6238 code (HMAC-SHA1). Waits out the last seconds of a time
    step so the server, which allows no drift, sees the same step."""
    if period - time.time() % period < 2:
        time.sleep(period - time.time() % period + 0.05)
    counter = int(time.time()) // period
    key = base64.b32decode(secret.replace(" ", "").upper(), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of a key page when PRM_E2E_SHOTS names a directory."""
    directory = os.environ.get("PRM_E2E_SHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
