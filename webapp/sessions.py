"""Django's database sessions, read with one SQL statement written once.

Every participant page reads the session first. Django's `db` backend reads it through the ORM
(`Session.objects.get(...)`), and building and compiling that query costs more CPU than running
it: about half of the session's 0.7 ms per round page (docs/performance.md). This store reads
the same row with the same condition from a statement built once per database alias;
everything else (writing, cycling keys, expiry, clearing) is Django's own.

`SESSION_ENGINE = "webapp.sessions"` (webapp/settings.py).
"""

from functools import cache

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict:
        data = self._session_data_from_db()
        if data is None:
            self._session_key = None  # as Django's backend does: a fresh key on the next save
            return {}
        return self.decode(data)

    def _session_data_from_db(self) -> str | None:
        if not self.session_key:
            return None
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_select_sql(alias), [self.session_key, now])
            row = cursor.fetchone()
        return None if row is None else row[0]


@cache
def _select_sql(alias: str) -> str:
    """The statement `Session.objects.get(session_key=…, expire_date__gt=…)` runs, less the
    columns the store never uses."""
    from django.contrib.sessions.models import Session

    quote = connections[alias].ops.quote_name
    field = Session._meta.get_field
    return (
        f"SELECT {quote(field('session_data').column)} FROM {quote(Session._meta.db_table)} "
        f"WHERE {quote(field('session_key').column)} = %s "
        f"AND {quote(field('expire_date').column)} > %s"
    )
