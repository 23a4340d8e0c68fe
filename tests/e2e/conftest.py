"""Real-browser tests: Playwright drives Debian's Chromium against pytest-django's live
server. Screenshots go to ``artifacts/`` (kept by CI as test artefacts).

Where Chromium is not installed the tests skip with a reason, except when
``REQUIRE_E2E=1`` (set by CI), where its absence is a failure.

Every page runs under the site's real Content-Security-Policy (never bypassed): a
``securitypolicyviolation`` event or a "Refused to ..." console message on any page a test
opens fails that test, with what was blocked and where.
"""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# for their fixtures are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]


# Reports every Content-Security-Policy violation of the page (and of any frame) to Python.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "?"} at `
    + `${e.sourceFile || e.documentURI}:${e.lineNumber}:${e.columnNumber} ${e.sample || ""}`);
}, true);
"""
CSP_CONSOLE_MARKERS = ("Content Security Policy", "Content-Security-Policy", "Refused to")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("REQUIRE_E2E") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package.")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    # While Playwright runs, its event loop counts as running in this thread, and Django then
    # keeps the thread's database connections in a separate (per-context) storage. Close
    # them while that is still so: afterwards they are out of reach, outlive the session,
    # and PostgreSQL refuses to drop the test database ("accessed by other users").
    from django.db import connections

    connections.close_all()
    browser.close()
    pw.stop()


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that passed but saw a Content-Security-Policy violation fails."""
    result = yield
    seen = getattr(item, "csp_violations", None)
    if seen:
        pytest.fail("Content-Security-Policy violations:\n  " + "\n  ".join(seen), pytrace=False)
    return result


def watch_csp(context, seen: list[str]):
    """Records in ``seen`` every CSP violation on every page of ``context``."""
    context.expose_binding(
        "__cspViolation", lambda source, text: seen.append(f"{source['frame'].url}: {text}")
    )
    context.add_init_script(CSP_LISTENER)

    def on_console(message):
        if any(marker in message.text for marker in CSP_CONSOLE_MARKERS):
            seen.append(f"{message.page.url if message.page else '?'}: console: {message.text}")

    context.on("console", on_console)


@pytest.fixture
def csp_violations(request):
    """The CSP violations seen so far by this test's browser contexts (a test that provokes
    one on purpose clears the list after checking it)."""
    request.node.csp_violations = []
    return request.node.csp_violations


@pytest.fixture
def new_page(browser, live_server, csp_violations):
    """Factory: ``new_page()`` opens a fresh browser context (its own cookies) and page,
    watched for Content-Security-Policy violations."""
    contexts = []

    def make(viewport=None, **options):
        context = browser.new_context(
            base_url=live_server.url,
            viewport=viewport or {"width": 1280, "height": 900},
            bypass_csp=False,
            **options,
        )
        context.set_default_timeout(10_000)
        watch_csp(context, csp_violations)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page, username: str, password: str = "pass-word-123"):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
