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


STAFF_PASSWORD = "a staff password of some length"


def log_in_as_staff(page, base_url: str, user_model) -> None:
    """Create a superuser and log the page in through the admin's own login form."""
    from django.urls import reverse

    user_model.objects.create_superuser("curator", password=STAFF_PASSWORD)
    page.goto(f"{base_url}{reverse('admin:login')}")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Site administration").wait_for()
