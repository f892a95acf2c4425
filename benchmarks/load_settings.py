"""The production settings with one change: the URLs add the load benchmark's bare view.

Used only by benchmarks/load_quiz.py (DJANGO_SETTINGS_MODULE=benchmarks.load_settings), so the
ceiling it measures runs under exactly the settings the quiz runs under.
"""

from webapp.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.load_urls"
