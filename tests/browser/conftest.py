"""One headless Chromium per module; a fresh context per test, whose pages must break no part of
the content security policy."""

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_FLAGS, watch_csp


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, which makes Django refuse ORM calls
    # from the test body; they are synchronous all the same.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
            )
            yield browser
            browser.close()


@pytest.fixture
def csp_violations():
    """Starts collecting a page's CSP violations (tests.browser.chromium.watch_csp)."""
    return watch_csp


@pytest.fixture
def page(browser):
    # A fresh context per test: its own cookies (session) and localStorage.
    context = browser.new_context()
    page = context.new_page()
    violations = watch_csp(page)
    yield page
    context.close()
    assert violations == [], "the page broke the content security policy"
