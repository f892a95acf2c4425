"""Headless Chromium for the browser tests: where it is, how it starts, what it reports."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def watch_csp(page) -> list[str]:
    """Collects every content-security-policy violation the page reports, across navigations.

    Chromium logs each refused script, style or resource as a console error naming the policy.
    """
    violations: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return violations
