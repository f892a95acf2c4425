"""The load benchmark's settings with every middleware timed (benchmarks/request_profile.py).

Used by ``benchmarks/load_quiz.py --profile`` (DJANGO_SETTINGS_MODULE=benchmarks.profile_settings).
"""

from benchmarks.load_settings import *  # noqa: F403
from benchmarks.load_settings import MIDDLEWARE
from benchmarks.request_profile import wrap_middleware

MIDDLEWARE = wrap_middleware(MIDDLEWARE)
