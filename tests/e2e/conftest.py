"""Browser tests: headless Chromium (Playwright, sync API) against pytest-django's live
server, on the platform host (``localhost:PORT``) and on tenant hosts
(``<slug>.localhost:PORT``).

glibc does not resolve ``*.localhost`` here, but Chromium does with
``--host-resolver-rules``. Every page is watched for Content-Security-Policy
violations, uncaught script errors and broken static files; any of them fails the
test. A failing test leaves a screenshot in ``test-artifacts/``.

Set ``PRM_E2E_SHOTS=/some/dir`` to also keep screenshots of the key pages.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from tests.e2e.helpers import Site

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("PRM_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1, MAP localhost 127.0.0.1",
]
TIMEOUT_MS = 8_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Lets the page fixture know, at teardown, whether the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class BrowserLog:
    """What went wrong in the browser while a test ran."""

    csp_violations: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    broken_static: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        self.console_errors.append(message.text)
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            self.csp_violations.append(message.text)

    def on_page_error(self, error: Exception) -> None:
        self.script_errors.append(str(error))

    def on_response(self, response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.broken_static.append(f"{response.status} {response.url}")

    def problems(self) -> list[str]:
        return [
            *(f"CSP violation: {m}" for m in self.csp_violations),
            *(f"script error: {m}" for m in self.script_errors),
            *(f"static file failed: {m}" for m in self.broken_static),
        ]


# Chromium already logs violations to the console; this makes the log explicit and
# also catches reports that carry no console message (e.g. from report-only rules).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " +
                (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(
    browser: Browser, browser_log: BrowserLog, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, in English."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(_CSP_LISTENER)
    page = context.new_page()
    page.on("console", browser_log.on_console)
    page.on("pageerror", browser_log.on_page_error)
    page.on("response", browser_log.on_response)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        # A screenshot must never hide the failure itself.
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(page.content())
    context.close()
    problems = browser_log.problems()
    if failed is not None and failed.failed:
        for problem in problems:  # shown with the failure, not as a second error
            print(problem)
        return
    assert not problems, "browser reported problems:\n" + "\n".join(problems)


@pytest.fixture
def site(live_server, settings) -> Site:  # type: ignore[no-untyped-def]
    """The live server, with links in e-mails pointing at its port and jobs inline."""
    port = urlsplit(live_server.url).port
    assert port is not None
    settings.PRM_PUBLIC_PORT = str(port)
    settings.PRM_JOBS_INLINE = True
    return Site(port=port)
