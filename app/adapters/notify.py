"""Outbound webhooks signed with HMAC-SHA256; one attempt per call, retries belong to the outbox."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

SIGNATURE_HEADER = "X-Protect-Signature"
TIMESTAMP_HEADER = "X-Protect-Timestamp"
MESSAGE_ID_HEADER = "X-Protect-Message-Id"

BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 3600.0


class DeliveryError(Exception):
    """A webhook was not accepted; the message says why but never carries the payload."""


def canonical_json(payload: dict) -> bytes:
    """Serialise a payload deterministically so sender and receiver sign the same bytes.

    Args:
        payload: JSON-serialisable mapping.

    Returns:
        UTF-8 JSON with sorted keys, no whitespace, and non-ASCII characters kept as is.
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sign(body: bytes, timestamp: str, secret: str) -> str:
    """Sign a body together with its timestamp, so an old body cannot be replayed with a new one.

    Args:
        body: Exact bytes sent over the wire.
        timestamp: The value sent in the X-Protect-Timestamp header.
        secret: Shared secret.

    Returns:
        "sha256=" followed by the hex HMAC-SHA256 of timestamp + "." + body.
    """
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(body: bytes, timestamp: str, signature: str, secret: str) -> bool:
    """Check a signature in constant time.

    Args:
        body: Bytes as received.
        timestamp: X-Protect-Timestamp header value.
        signature: X-Protect-Signature header value.
        secret: Shared secret.

    Returns:
        True if the signature matches.
    """
    expected = sign(body, timestamp, secret)
    # compare_digest avoids leaking through timing how many leading characters matched.
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8"))


def where(url: str) -> str:
    """Only the scheme, host and port of `url`, for an error: its path or query string may
    embed tokens (a robot's key, an access token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _reason(exc: BaseException) -> str:
    # requests wraps urllib3 wraps the socket error; the innermost OS error is the readable one
    # ("Connection refused"), and it cannot contain the request body.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__ == "builtins" and isinstance(current, OSError):
            if current.strerror:
                return current.strerror
        current = current.__cause__ or current.__context__
    return type(exc).__name__


def post_signed(
    url: str,
    payload: dict,
    *,
    secret: str,
    message_id: str,
    timestamp: str,
    timeout: float = 5.0,
) -> None:
    """POST a signed JSON payload once.

    Args:
        url: Receiver endpoint.
        payload: JSON-serialisable mapping; sent as canonical_json(payload).
        secret: Shared HMAC secret.
        message_id: Stable id the receiver uses to drop duplicates of a retried message.
        timestamp: Signed timestamp string, supplied by the caller (no wall clock here).
        timeout: Seconds for connecting and for each read.

    Raises:
        DeliveryError: On a non-2xx answer (redirects included), a timeout or a connection error.
    """
    body = canonical_json(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, timestamp, secret),
        TIMESTAMP_HEADER: timestamp,
        MESSAGE_ID_HEADER: message_id,
    }
    status = post_once(url, body, headers=headers, message_id=message_id,
                       timeout=timeout).status_code
    if not 200 <= status < 300:
        # The response body is deliberately left out: receivers may echo the payload back.
        raise DeliveryError(f"HTTP {status} delivering message {message_id} to {where(url)}")


def post_once(
    url: str, body: bytes, *, headers: dict[str, str], message_id: str, timeout: float
) -> requests.Response:
    """POST `body` once, without following redirects; the answer, whatever its status.

    Args:
        url: Receiver endpoint; only its scheme, host and port ever appear in an error.
        body: Exact bytes to send.
        headers: Request headers.
        message_id: The outbox message's id, for the error message.
        timeout: Seconds for connecting and for each read.

    Raises:
        DeliveryError: On a timeout or a connection error (never with the body).
    """
    host = where(url)
    try:
        # No redirects: a message about a child must not be forwarded somewhere unplanned.
        with requests.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            return response
    except requests.Timeout as exc:
        raise DeliveryError(
            f"timeout after {timeout:g}s delivering message {message_id} to {host}"
        ) from exc
    except requests.ConnectionError as exc:
        raise DeliveryError(
            f"connection error delivering message {message_id} to {host}: {_reason(exc)}"
        ) from exc
    except requests.RequestException as exc:
        raise DeliveryError(
            f"request failed delivering message {message_id} to {host}: {type(exc).__name__}"
        ) from exc


def backoff_seconds(attempt: int) -> float:
    """Delay before retry number `attempt`: 5 s, 10 s, 20 s, ... capped at one hour.

    Args:
        attempt: 1-based number of the failed attempt.

    Returns:
        Seconds to wait.

    Raises:
        ValueError: If attempt is below 1.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    # 5 * 2**10 already exceeds the cap; stop there so huge attempt counts stay cheap.
    exponent = min(attempt - 1, 10)
    return min(BACKOFF_BASE_S * 2.0**exponent, BACKOFF_CAP_S)


def deliver_hotline_feedback(payload: dict[str, Any], *, now: datetime) -> None:
    """POST one feedback to the hotline platform, signed; raises DeliveryError when not accepted."""
    from app.config.settings import get_settings

    settings = get_settings()
    if not settings.hotline_callback_url:
        raise DeliveryError("no hotline callback address (PROTECT_HOTLINE_CALLBACK_URL)")
    post_signed(settings.hotline_callback_url, payload, secret=settings.hotline_secret,
                message_id=str(payload["idempotency_key"]), timestamp=now.isoformat(),
                timeout=settings.hotline_timeout_s)
