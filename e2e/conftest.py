"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Never `playwright install`: the browser is the system's. Where none is installed the tests
are skipped with that reason, so a machine without Chromium still passes.
"""

import os
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

# Playwright runs an event loop in this thread; Django's live server and ORM are fine with it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    missing = not Path(CHROMIUM).exists()
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}"))


@pytest.fixture(autouse=True)
def _shop_url(settings, live_server):
    """Links in mails point at SHOP_URL: here, the live server the browser talks to."""
    settings.SHOP_URL = live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": DESKTOP, "locale": "en-US"}


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under e2e/artifacts/ (ignored by git) for a person to look at."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


_axe = Axe()
TAP_TARGETS_JS = (Path(__file__).parent / "tap_targets.js").read_text()


def small_tap_targets(page) -> list[str]:
    """Visible links and controls under 44 x 44 px (a tick box counts with its label)."""
    return page.evaluate(TAP_TARGETS_JS)


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def assert_accessible(page) -> None:
    """Run axe-core (shipped inside axe-playwright-python, nothing downloaded) on the page."""
    results = _axe.run(page)
    assert results.violations_count == 0, results.generate_report()
