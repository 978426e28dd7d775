"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a Streamlit server
per database, and one visit of every page whose text and screenshot the tests then read.

No browser is downloaded (``playwright install`` is never run): the tests drive the system's
Chromium through ``executable_path``. Without one they skip with the reason, unless
``DUNNING_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail: CI must run them.
``DUNNING_CHROMIUM`` names the executable when it is not on ``PATH``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import loader, service
from engine.service import demo

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboards" / "app.py"
EXPERIMENT_FILE = REPO / "experiments" / "dunning_channels.yaml"
#: Screenshots and server logs; gitignored (var/), kept after the run for a human to look at.
ARTIFACTS = Path(os.environ.get("DUNNING_TEST_ARTIFACTS", REPO / "var" / "test-artifacts"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: 90 days, long enough for churn (60-day horizon) to mature and the guardrail to stop the
#: agency arm; 500 debtors a day keep it under a minute. Seed 1 stops direct_collection.
DEMO_DAYS, DEMO_PER_DAY, DEMO_SEED = 90, 500, 1
VIEWPORT = {"width": 1400, "height": 900}
RENDER_TIMEOUT_MS = 90_000  # the first run of a page imports the engine and fits models


def _missing(reason: str) -> None:
    if os.environ.get("DUNNING_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (DUNNING_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the system's Chromium."""
    wanted = os.environ.get("DUNNING_CHROMIUM")
    found = wanted if wanted else next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if not found or not Path(found).exists():
        _missing(
            "no Chromium found (looked for DUNNING_CHROMIUM, then "
            f"{', '.join(CHROMIUM_NAMES)} on PATH): apt-get install chromium"
        )
    assert found is not None
    return found


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def streamlit_server(database_url: str, name: str) -> Iterator[Server]:
    """``streamlit run dashboards/app.py`` on a free port of 127.0.0.1, headless, from the
    repository root (so it reads the repository's ``.streamlit/config.toml``)."""
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / f"streamlit-{name}.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    env = {**os.environ, "DATABASE_URL": database_url}
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    server = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Streamlit did not start:\n{server.log_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: True once the script run is over and every chart has drawn (Vega draws after the run).
_RENDERED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]')) return false;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  return charts.every(c => c.querySelector('canvas, svg'));
}"""


@dataclass
class Visit:
    """One page as the browser showed it."""

    title: str
    path: str
    text: str
    exceptions: list[str]
    screenshot: Path
    seconds: float
    #: Streamlit's "Deploy" buttons shown (the repository's config hides them).
    deploy_buttons: int = 0


def render(page: Page, url: str) -> float:
    """Open ``url`` and wait until Streamlit has finished rendering it; the seconds it took."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_RENDERED, timeout=RENDER_TIMEOUT_MS, polling=100)
    page.wait_for_load_state("networkidle")
    # A widget may ask for a rerun right after the first one: wait for that one too.
    page.wait_for_timeout(300)
    page.wait_for_function(_RENDERED, timeout=RENDER_TIMEOUT_MS, polling=100)
    return time.perf_counter() - start


def screenshot(page: Page, path: Path) -> None:
    """The whole page. Streamlit scrolls inside its main container, not the document, so a
    "full page" screenshot would stop at the viewport: grow the viewport to the content."""
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll(
            '[data-testid="stMain"], [data-testid="stAppViewContainer"], section.main'
        )].map(e => e.scrollHeight), document.body.scrollHeight)"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(int(height), 400)})
    page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


def visit_every_page(browser: Browser, server: Server, name: str) -> dict[str, Visit]:
    """Every page of the top navigation, by its title, each opened fresh by its URL."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        render(page, server.url)
        links = page.locator('[data-testid="stTopNav"] a[href], [data-testid="stSidebarNav"] a')
        pages = {
            links.nth(i).inner_text().split("\n")[-1].strip(): str(
                links.nth(i).get_attribute("href")
            )
            for i in range(links.count())
        }
        assert pages, "no navigation found"
        visits = {}
        for title, href in pages.items():
            path = href.removeprefix(server.url).lstrip("/")
            seconds = render(page, f"{server.url}/{path}")
            shot = ARTIFACTS / f"{name}-{title.lower().replace(' ', '-')}.png"
            screenshot(page, shot)
            visits[title] = Visit(
                title=title,
                path=path,
                text=page.locator('[data-testid="stMain"]').inner_text(),
                exceptions=page.locator('[data-testid="stException"]').all_inner_texts(),
                screenshot=shot,
                seconds=seconds,
                deploy_buttons=page.locator('[data-testid="stAppDeployButton"]').count()
                + page.get_by_role("button", name="Deploy").count(),
            )
        return visits
    finally:
        context.close()


@dataclass
class BrowserSession:
    """A browser session over one database: its pages, and the database's digest around it."""

    visits: dict[str, Visit]
    server_log: str
    digest_before: str
    digest_after: str
    wal_after: int = field(default=0)  # bytes in a ``-wal`` file after the session


def browse(browser: Browser, database: Path, name: str) -> BrowserSession:
    before = digest(database)
    with streamlit_server(f"sqlite:///{database}", name) as server:
        visits = visit_every_page(browser, server, name)
    wal = database.with_name(database.name + "-wal")
    return BrowserSession(
        visits=visits,
        server_log=server.log_text(),
        digest_before=before,
        digest_after=digest(database),
        wal_after=wal.stat().st_size if wal.exists() else 0,
    )


@pytest.fixture(scope="session")
def demo_database(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, service.ExperimentReport]:
    """The engine's own demo (the real loop), once per session; and its report."""
    path = tmp_path_factory.mktemp("browser") / "demo.sqlite3"
    engine = service.open_db(f"sqlite:///{path}")
    result = demo.run_demo(
        engine,
        loader.load_experiment(EXPERIMENT_FILE),
        days=DEMO_DAYS,
        debtors_per_day=DEMO_PER_DAY,
        seed=DEMO_SEED,
        start=demo.default_start(DEMO_DAYS),
    )
    engine.dispose()
    return path, result.report


@pytest.fixture(scope="session")
def demo_session(
    browser: Browser, demo_database: tuple[Path, service.ExperimentReport]
) -> BrowserSession:
    return browse(browser, demo_database[0], "demo")


@pytest.fixture(scope="session")
def empty_session(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> BrowserSession:
    path = tmp_path_factory.mktemp("browser") / "empty.sqlite3"
    service.open_db(f"sqlite:///{path}").dispose()
    return browse(browser, path, "empty")
