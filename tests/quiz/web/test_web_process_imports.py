"""The web process serves pages and enqueues jobs; torch belongs to the workers that run them."""

import os
import subprocess
import sys

from django.conf import settings

HEAVY = ("torch", "torchvision", "scipy")


def _printed_by_fresh_interpreter(script: str, var_dir) -> str:
    """What `script` prints in a new Python with the site's settings: this test session has long
    since imported torch and scipy itself."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "VAR_DIR": str(var_dir)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def test_web_process_does_not_import_torch(tmp_path):
    script = (
        "import sys, django; django.setup(); "
        "from django.urls import resolve; resolve('/admin/'); "  # loads every URLconf and admin
        "import quiz.admin, quiz.tasks, quiz.views.staff; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert _printed_by_fresh_interpreter(script, tmp_path) == "[]"


def test_a_consent_does_not_import_scipy(tmp_path):
    # Drawing a session's design is the part of a consent that once needed scipy.stats: about a
    # second of CPU at the first consent of every gunicorn worker, while its other requests wait.
    script = (
        "import sys, django; django.setup(); "
        "import numpy as np, quiz.views.participant; "
        "from quiz.studies.design import session_design; "
        "session_design(10, 5, 60, 60, 2, np.random.default_rng(0)); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'torch')))"
    )
    assert _printed_by_fresh_interpreter(script, tmp_path) == "[]"
