"""What every job's admin shares: a warning when the broker cannot be told, cancel and retry."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from quiz import jobs


def warning_for(request: HttpRequest) -> Callable[[str], None]:
    """A notify callback for the jobs door: the admin page shows what it says as a warning."""
    return lambda text: messages.warning(request, text)


def cancel_jobs(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    result = jobs.cancel(queryset)
    model_admin.message_user(
        request,
        f"Cancelled {result.cancelled} job(s) that were queued or had lost their worker; "
        f"asked {result.stopping} running job(s) to stop at their next heartbeat.",
    )


def retry_jobs(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    result = jobs.retry(queryset, notify=warning_for(request))
    model_admin.message_user(request, f"Queued {len(result.requeued)} job(s) again.")
    for reason in result.refused:
        model_admin.message_user(request, f"Not retried: {reason}.", messages.WARNING)
