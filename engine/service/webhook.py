"""Post each decision as JSON to a webhook after it is committed. Never fails the job."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("dunning.webhook")

#: Seconds to wait for the receiver; a slow receiver must not hold up the cycle.
WEBHOOK_TIMEOUT = 5.0


def post_decision(
    url: str, payload: Mapping[str, Any], *, timeout: float = WEBHOOK_TIMEOUT
) -> bool:
    """POST ``payload`` as JSON to ``url``; True on a 2xx answer.

    Called after the decision's transaction committed, so the receiver never hears of a
    decision that was rolled back. Any failure (refused connection, timeout, non-2xx) is
    logged as a warning and reported as False: the decision stands without its notification.
    """
    body = json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return False
    if not 200 <= status < 300:  # pragma: no cover - urlopen raises HTTPError for these
        log.warning("webhook %s answered %s", url, status)
        return False
    return True
