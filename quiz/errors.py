"""The site's 400 page: it says why a request was refused, in words that are safe to show anyone.

Django's own handler renders 400.html without the exception, so every refusal read as a bare
"Bad Request". The reason shown is chosen by the exception's class from fixed sentences, never
taken from its message: messages can quote the request (a file name, a Host header) or name
settings, and on a participant's page nothing but the pixels may tell a panel's truth.
"""

from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import (
    DisallowedHost,
    DisallowedRedirect,
    RequestDataTooBig,
    SuspiciousFileOperation,
    SuspiciousMultipartForm,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

# The first class the exception is an instance of gives the reason (subclasses come first).
REASONS: list[tuple[type[Exception], str]] = [
    (RequestDataTooBig, "The request is larger than this site accepts."),
    (TooManyFilesSent, "The form sent more files at once than this site accepts."),
    (TooManyFieldsSent, "The form sent more fields than this site accepts."),
    (SuspiciousFileOperation, "A file name in the request could not be used."),
    (SuspiciousMultipartForm, "The form's uploaded data could not be read."),
    (MultiPartParserError, "The form's uploaded data could not be read."),
    (DisallowedHost, "This site does not answer to the host name the request was sent to."),
    (DisallowedRedirect, "The request asked for a redirect this site does not make."),
    (
        SessionInterrupted,
        "Your session ended while this request was handled. Please go back and try again.",
    ),
]
UNKNOWN_REASON = "The request could not be understood."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: the 400 page with the reason for `exception`."""
    reason = next((text for kind, text in REASONS if isinstance(exception, kind)), UNKNOWN_REASON)
    return render(request, "400.html", {"reason": reason}, status=400)
