"""The leak audit's pass to take a study as a participant before the study is published.

The audit drives the quiz over HTTP like any participant, so it must reach an unpublished study.
It presents a signed, short-lived token in `?audit=` on the start page; nobody without the
SECRET_KEY can forge one. Its participant rows are marked `is_audit` and deleted afterwards.
"""

from django.core import signing

from quiz.models import Study

_SALT = "quiz.leak-audit"
TOKEN_MAX_AGE_S = 3600


def audit_token(study: Study) -> str:
    return signing.dumps(study.pk, salt=_SALT)


def is_audit_token(study: Study, token: str) -> bool:
    try:
        return signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE_S) == study.pk
    except signing.BadSignature:
        return False
