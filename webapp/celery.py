"""The Celery app. Workers: `celery -A webapp worker -Q default,gpu,evaluation`, one each.

Training and generation go to queue "gpu" so that GPU machines can consume only that queue;
evaluations go to "evaluation", whose own worker keeps them from delaying a generation; ingest
and other light work go to "default" (settings.CELERY_TASK_ROUTES).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_broker_folders(sender: Celery, **kwargs) -> None:
    # kombu's filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            os.makedirs(options[key], exist_ok=True)
