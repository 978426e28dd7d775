"""Post each decision as JSON to a webhook after it is committed. Never fails the job.

A delivery has one deadline for everything (connecting, sending, reading the answer): socket
timeouts bound each read, not their sum, so a receiver that drips a byte every second would
otherwise hold the scheduled job for as long as it likes. At the deadline a watchdog shuts
the socket down, the blocked read returns, and the failure is logged. Webhook URLs often carry
a token in their path or query (Slack, Teams): logs show only the scheme, the host and the
first path segment.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("dunning.webhook")

#: Seconds for a whole delivery (connect + send + answer); a slow receiver must not hold up
#: the cycle.
WEBHOOK_TIMEOUT = 5.0
#: Bytes of the answer read (and ignored): only the status matters.
MAX_ANSWER_BYTES = 64 << 10


def redact_webhook(url: str) -> str:
    """``url`` as it may be logged: scheme, host (and port) and the first path segment;
    credentials, the rest of the path, the query and the fragment may hold a token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    if not parts.scheme or not host:
        return "(not an http(s) URL)"
    segments = [s for s in parts.path.split("/") if s]
    # A lone segment may be the token itself (https://host/T0KEN): only a prefix is shown.
    path = f"/{segments[0]}" if len(segments) > 1 else ""
    more = "/..." if segments or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}{path}{more}"


def _scrub(message: str, url: str) -> str:
    """``message`` without the parts of ``url`` that may hold a token (http.client quotes an
    invalid path in its error)."""
    try:
        parts = urlsplit(url)
        secrets = [parts.path, parts.query, parts.fragment, parts.password]
    except ValueError:
        secrets = []
    for secret in sorted({url, *filter(None, secrets)}, key=len, reverse=True):
        if len(secret) > 1:
            message = message.replace(secret, "***")
    return message


class _Watchdog:
    """Shuts a connection's socket down at the deadline, ending any blocked read or write."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def check(self) -> None:
        """Called once connected: the deadline may have passed while connecting."""
        with self._lock:
            if self.expired:
                self._shut()

    def _shut(self) -> None:
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def _deliver(url: str, body: bytes, timeout: float) -> int:
    """POST ``body``; the answer's status. Raises OSError, HTTPException or ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "User-Agent": "dunning-engine"}
    if parts.username is not None:  # https://user:token@host/... as basic auth
        userinfo = f"{parts.username}:{parts.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(userinfo).decode("ascii")
    with _Watchdog(connection, timeout) as watchdog:
        try:
            connection.connect()
            watchdog.check()
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_ANSWER_BYTES)
            status = int(response.status)
        except (OSError, http.client.HTTPException):
            if watchdog.expired:
                raise TimeoutError(f"no complete answer within {timeout:g} s") from None
            raise
        finally:
            connection.close()
    if watchdog.expired:
        raise TimeoutError(f"no complete answer within {timeout:g} s")
    return status


def post_decision(
    url: str, payload: Mapping[str, Any], *, timeout: float = WEBHOOK_TIMEOUT
) -> bool:
    """POST ``payload`` as JSON to ``url`` within ``timeout`` seconds in all; True on a 2xx
    answer.

    Called after the decision's transaction committed, so the receiver never hears of a
    decision that was rolled back. Any failure (refused connection, deadline passed, non-2xx,
    an invalid URL) is logged as a warning, with the URL redacted, and reported as False: the
    decision stands without its notification. Redirects are not followed.
    """
    body = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    shown = redact_webhook(url)
    try:
        status = _deliver(url, body, timeout)
    except TimeoutError as exc:
        log.warning("webhook %s failed: %s", shown, exc)
        return False
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        log.warning("webhook %s failed: %s", shown, _scrub(reason, url))
        return False
    if not 200 <= status < 300:
        log.warning("webhook %s answered HTTP %s", shown, status)
        return False
    return True
