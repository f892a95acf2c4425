"""Create the staff account that `make run` prints, from STAFF_USERNAME / STAFF_PASSWORD if set."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or report) the staff superuser used to log in to /admin/."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("STAFF_USERNAME", "admin")
        password = os.environ.get("STAFF_PASSWORD", "")
        # A generated password is kept beside the database so that later runs can print it again.
        credentials = settings.VAR_DIR / "staff-credentials.txt"
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            password = password or secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=username, email="", password=password)
            if "STAFF_PASSWORD" not in os.environ:
                credentials.parent.mkdir(parents=True, exist_ok=True)
                credentials.write_text(f"{username}\n{password}\n")
                credentials.chmod(0o600)
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        elif credentials.exists():
            password = credentials.read_text().split("\n")[1]
        shown = password or "(unchanged; set STAFF_PASSWORD to reset it)"
        self.stdout.write(f"Staff login: username {username}  password {shown}")
