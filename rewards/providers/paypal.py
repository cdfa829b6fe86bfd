"""PayPal Payouts API client: OAuth client credentials, batch create, batch status.

Idempotency rests on ``sender_batch_id``: PayPal refuses a second batch with an id used
in the last 30 days (400 USER_BUSINESS_ERROR, detail field SENDER_BATCH_ID, with a link
to the original batch), so we send our own batch id and, on that refusal, adopt the
batch PayPal already has. That makes a send that timed out safe to repeat.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from prm import http
from prm.http import BlockedAddress
from rewards.providers.base import FAILED, PAID, PENDING, PayoutItem, ProviderError

TOKEN_PATH = "/v1/oauth2/token"
PAYOUTS_PATH = "/v1/payments/payouts"
# Creating a large batch can take PayPal a while; the connect timeout stays short.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE_SIZE = 1000
MAX_PAGES = 20  # PayPal takes at most 15,000 items a batch
CENT = Decimal("0.01")

# transaction_status -> ours. UNCLAIMED means PayPal holds the money for a receiver
# without an account: it becomes SUCCESS when claimed or RETURNED after 30 days.
_ITEM_STATUS = {
    "SUCCESS": PAID,
    "FAILED": FAILED,
    "RETURNED": FAILED,
    "BLOCKED": FAILED,
    "REFUNDED": FAILED,
    "REVERSED": FAILED,
    "PENDING": PENDING,
    "UNCLAIMED": PENDING,
    "ONHOLD": PENDING,
}
_BATCH_LINK_RE = re.compile(r"/v1/payments/payouts/([A-Za-z0-9_-]+)/?$")


class PayPalPayouts:
    """One PayPal REST app (client id + secret) at one API base URL."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._secret = secret
        self.timeout = timeout
        self._clock = clock
        self._token = ""
        self._token_expires_at = 0.0

    def __repr__(self) -> str:  # keeps the secret out of tracebacks and logs
        return f"PayPalPayouts({self.base_url!r}, client_id={self.client_id!r})"

    # -- the PayoutProvider interface ---------------------------------------------------

    def send_batch(self, *, batch_id: str, items: list[PayoutItem]) -> str:
        if not items:
            raise ValueError("a payout batch needs at least one item")
        body = {
            "sender_batch_header": {"sender_batch_id": batch_id, "recipient_type": "EMAIL"},
            "items": [_item_body(item) for item in items],
        }
        response = self._api("POST", PAYOUTS_PATH, json=body)
        if response.status_code in (200, 201):
            provider_batch_id = _json(response).get("batch_header", {}).get("payout_batch_id")
            if not provider_batch_id:
                # The batch may exist; sending again finds it through sender_batch_id.
                raise ProviderError(
                    "PayPal accepted the batch but its answer had no payout_batch_id",
                    retryable=True,
                    status=response.status_code,
                )
            return str(provider_batch_id)
        if _is_duplicate_batch(response):
            return self._adopt_existing(response, batch_id, items)
        raise _error(response)

    def batch_status(self, provider_batch_id: str) -> dict[str, str]:
        statuses: dict[str, str] = {}
        for header, page_items in self._batch_pages(provider_batch_id):
            # A denied batch pays nothing; its items may still read PENDING.
            denied = header.get("batch_status") == "DENIED"
            for entry in page_items:
                item_id = (entry.get("payout_item") or {}).get("sender_item_id")
                if not item_id:
                    continue
                status = _ITEM_STATUS.get(str(entry.get("transaction_status", "")), PENDING)
                statuses[str(item_id)] = FAILED if denied and status == PENDING else status
        return statuses

    # -- batches ------------------------------------------------------------------------

    def _batch_pages(self, provider_batch_id: str) -> Iterator[tuple[dict, list[dict]]]:
        path = f"{PAYOUTS_PATH}/{quote(provider_batch_id, safe='')}"
        page = 1
        while True:
            params = {"page": page, "page_size": PAGE_SIZE, "total_required": "true"}
            response = self._api("GET", path, params=params)
            if response.status_code != 200:
                raise _error(response)
            data = _json(response)
            yield data.get("batch_header") or {}, data.get("items") or []
            total_pages = int(data.get("total_pages") or 1)
            if page >= min(total_pages, MAX_PAGES):
                return
            page += 1

    def _adopt_existing(
        self, response: httpx.Response, batch_id: str, items: list[PayoutItem]
    ) -> str:
        existing = _linked_batch_id(_json(response))
        if not existing:
            raise ProviderError(
                f"PayPal already has a batch with sender_batch_id {batch_id} but did not say "
                "which one; find it in the PayPal account's activity",
                retryable=False,
                code="DUPLICATE_BATCH",
                status=response.status_code,
            )
        # Only adopt it when it is the same batch: same sender_batch_id, same items.
        sent: set[str] = set()
        for header, page_items in self._batch_pages(existing):
            sender_batch_id = (header.get("sender_batch_header") or {}).get("sender_batch_id")
            if sender_batch_id not in (None, batch_id):
                raise ProviderError(
                    f"PayPal pointed at batch {existing}, which belongs to sender_batch_id "
                    f"{sender_batch_id}, not {batch_id}",
                    retryable=False,
                    code="DUPLICATE_BATCH",
                )
            sent.update(
                str((entry.get("payout_item") or {}).get("sender_item_id", ""))
                for entry in page_items
            )
        if sent != {item.item_id for item in items}:
            raise ProviderError(
                f"PayPal already has batch {existing} for sender_batch_id {batch_id}, "
                "but with other items; nothing was sent",
                retryable=False,
                code="DUPLICATE_BATCH",
            )
        return existing

    # -- HTTP and OAuth -----------------------------------------------------------------

    def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An authorised call; a 401 gets one fresh token and one more try."""
        response = self._send(method, path, self._bearer(), **kwargs)
        if response.status_code != 401:
            return response
        self._token = ""
        response = self._send(method, path, self._bearer(), **kwargs)
        if response.status_code == 401:
            code, message = _describe(response)
            raise ProviderError(
                f"PayPal refused a freshly issued access token ({code}: {message})",
                retryable=False,
                code=code,
                status=401,
            )
        return response

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token()}"}

    def _access_token(self) -> str:
        if self._token and self._clock() < self._token_expires_at:
            return self._token
        requested_at = self._clock()
        response = self._send(
            "POST",
            TOKEN_PATH,
            {},
            auth=(self.client_id, self._secret),
            data={"grant_type": "client_credentials"},
        )
        if response.status_code in (400, 401):
            code, message = _describe(response)
            raise ProviderError(
                f"PayPal rejected the client id or secret ({code}: {message})",
                retryable=False,
                code=code,
                status=response.status_code,
            )
        if response.status_code != 200:
            raise _error(response)
        data = _json(response)
        token = data.get("access_token")
        if not token:
            raise ProviderError(
                "PayPal's token answer had no access_token", retryable=True, status=200
            )
        expires_in = float(data.get("expires_in") or 0)
        # Renew a little early so a token does not expire between check and use.
        self._token = str(token)
        self._token_expires_at = requested_at + expires_in - min(60.0, expires_in / 10)
        return self._token

    def _send(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        url = self.base_url + path
        try:
            return http.request(
                method,
                url,
                headers={"Accept": "application/json", **headers},
                timeout=self.timeout,
                **kwargs,
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"PayPal did not answer {method} {path} in time", retryable=True, code="TIMEOUT"
            ) from exc
        except BlockedAddress as exc:
            raise ProviderError(str(exc), retryable=False, code="BLOCKED_ADDRESS") from exc
        except httpx.TransportError as exc:
            raise ProviderError(
                f"cannot reach PayPal for {method} {path}: {exc.__class__.__name__}",
                retryable=True,
                code="NETWORK",
            ) from exc


def _item_body(item: PayoutItem) -> dict[str, Any]:
    if item.amount <= 0 or item.amount != item.amount.quantize(CENT):
        raise ValueError(f"payout item {item.item_id}: amount {item.amount} is not whole cents")
    body: dict[str, Any] = {
        "recipient_type": "EMAIL",
        "amount": {"value": f"{item.amount.quantize(CENT)}", "currency": item.currency},
        "receiver": item.receiver,
        "sender_item_id": item.item_id,
    }
    if item.note:
        body["note"] = item.note
    return body


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(response: httpx.Response) -> tuple[str, str]:
    """PayPal's error name and a readable message from either error shape it uses."""
    data = _json(response)
    if "error" in data:  # OAuth: {"error": "invalid_client", "error_description": ...}
        return str(data["error"]), str(data.get("error_description", ""))
    code = str(data.get("name", ""))
    message = str(data.get("message", "")) or response.reason_phrase
    issues = [
        f"{d.get('field', '')}: {d.get('issue', '')}".strip(": ")
        for d in data.get("details") or []
        if isinstance(d, dict)
    ]
    if issues:
        message = f"{message} ({'; '.join(issues)})"
    if data.get("debug_id"):
        message = f"{message} [debug_id {data['debug_id']}]"
    return code, message


def _error(response: httpx.Response) -> ProviderError:
    code, message = _describe(response)
    status = response.status_code
    return ProviderError(
        f"PayPal answered {status}" + (f" {code}" if code else "") + f": {message}",
        retryable=status in (408, 429) or status >= 500,
        code=code,
        status=status,
    )


def _is_duplicate_batch(response: httpx.Response) -> bool:
    """PayPal's refusal of a reused sender_batch_id: 400 USER_BUSINESS_ERROR with a
    SENDER_BATCH_ID detail ("Batch with given sender_batch_id already exists")."""
    if response.status_code != 400:
        return False
    data = _json(response)
    for detail in data.get("details") or []:
        if not isinstance(detail, dict):
            continue
        field = str(detail.get("field", "")).upper()
        issue = str(detail.get("issue", "")).lower()
        if "sender_batch_id already exists" in issue or (
            field == "SENDER_BATCH_ID" and data.get("name") == "USER_BUSINESS_ERROR"
        ):
            return True
    return False


def _linked_batch_id(data: dict[str, Any]) -> str:
    """The original batch's id from the links of a duplicate refusal.

    Only the id is taken: the link's host is PayPal's public one, and we keep talking to
    the configured base URL rather than follow a URL from a response.
    """
    links: list[Any] = list(data.get("links") or [])
    for detail in data.get("details") or []:
        if isinstance(detail, dict):
            links.extend(detail.get("link") or detail.get("links") or [])
    for link in links:
        href = link.get("href", "") if isinstance(link, dict) else ""
        match = _BATCH_LINK_RE.search(urlsplit(str(href)).path)
        if match:
            return match.group(1)
    return ""
