"""The webhook has one deadline per delivery (connect + send + answer): a receiver that drips its
answer cannot hold the scheduled job, and failures are logged with the URL redacted."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from engine.service.webhook import post_decision, redact_webhook
from tests.conftest import CHANNELS
from tests.safety import invoke

TOKEN = "T0KEN-xyz-123"


class Dripper:
    """A TCP server that reads the request, then answers one byte every ``every`` seconds
    (an HTTP answer that would take minutes to complete)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.closed = threading.Event()
        self.accepted = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.accepted.set()
            threading.Thread(target=self._drip, args=(client,), daemon=True).start()

    def _drip(self, client: socket.socket) -> None:
        with client:
            client.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"." * 1000:
                if self.closed.wait(self.every):
                    return
                try:
                    client.send(bytes([byte]))
                except OSError:
                    return

    def url(self, path: str = "/services/T0/B0/" + TOKEN) -> str:
        return f"http://hook:{TOKEN}@127.0.0.1:{self.port}{path}?token={TOKEN}"

    def close(self) -> None:
        self.closed.set()
        self.server.close()


@pytest.fixture
def dripper() -> Iterator[Dripper]:
    server = Dripper(every=0.2)
    yield server
    server.close()


def test_a_dripping_receiver_is_cut_off_at_the_deadline(
    dripper: Dripper, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="dunning.webhook"):
        assert post_decision(dripper.url(), {"action": "continue"}, timeout=1.0) is False
    elapsed = time.monotonic() - started
    # The whole answer would take 1,000+ bytes x 0.2 s; the deadline ends it after 1 s.
    assert elapsed < 5.0, elapsed
    assert dripper.accepted.is_set()
    [record] = caplog.records
    assert "no complete answer within 1 s" in record.getMessage()
    assert TOKEN not in record.getMessage()
    assert f"http://127.0.0.1:{dripper.port}/services/..." in record.getMessage()


def test_run_cycle_goes_on_after_the_deadline(db_url: str, dripper: Dripper) -> None:
    assert invoke("sync", str(CHANNELS), "--db", db_url, "--as-of", "2026-03-01")[0] == 0
    started = time.monotonic()
    code, output = invoke(
        "run-cycle", "--json", "--db", db_url, "--as-of", "2026-03-03", "--webhook", dripper.url()
    )
    assert code == 0, output
    assert time.monotonic() - started < 30, "the 5 s deadline, not the receiver, ended it"
    assert '"event": "decision"' in output
    assert TOKEN not in output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"https://hooks.example.com/services/T0/B0/{TOKEN}",
            "https://hooks.example.com/services/...",
        ),
        (
            f"https://u:{TOKEN}@example.com:8443/hook?key={TOKEN}",
            "https://example.com:8443/...",
        ),
        (f"https://example.com/{TOKEN}", "https://example.com/..."),
        ("http://example.com", "http://example.com"),
        (TOKEN, "(not an http(s) URL)"),
        (f"http://[::1]:{TOKEN}/x", "(unparseable URL)"),
    ],
)
def test_webhook_urls_are_logged_redacted(url: str, shown: str) -> None:
    assert redact_webhook(url) == shown


def test_every_failure_is_logged_redacted(caplog: pytest.LogCaptureFixture) -> None:
    refused = socket.create_server(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()  # nothing listens there any more
    urls = [
        f"http://u:{TOKEN}@127.0.0.1:{port}/services/{TOKEN}",
        f"ftp://127.0.0.1/{TOKEN}",
        f"http://127.0.0.1:{port}/a b/{TOKEN}",
        f"not a url {TOKEN}",
    ]
    with caplog.at_level(logging.WARNING, logger="dunning.webhook"):
        for url in urls:
            assert post_decision(url, {"a": 1}, timeout=1.0) is False
    assert len(caplog.records) == len(urls)
    for record in caplog.records:
        assert TOKEN not in record.getMessage(), record.getMessage()
