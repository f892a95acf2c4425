"""A cache shared by every web worker without a cache server: Django's DatabaseCache, made safe for
django-ratelimit's counters.

django-ratelimit counts requests with cache.add() and cache.incr(). DatabaseCache.incr() is a read
followed by a write, so two workers counting at once both read n and write n + 1, and a burst of
parallel requests could pass a limit several times over (django-ratelimit refuses DatabaseCache
for that reason, check E003). Here the read and the write happen in one transaction that holds the
row: PostgreSQL locks it with SELECT ... FOR UPDATE; on SQLite the transaction itself takes the
database's write lock (BEGIN IMMEDIATE: DATABASES' transaction_mode), so increments queue up.
With REDIS_URL set the site uses django-redis instead (webapp.settings.redis_cache), whose INCR is
atomic, and which answers a miss instead of an error while Redis is unreachable.
"""

import logging

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction


class AtomicDatabaseCache(DatabaseCache):
    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        with transaction.atomic(using=db):
            if connection.features.has_select_for_update:
                table = connection.ops.quote_name(self._table)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT cache_key FROM {table} WHERE cache_key = %s FOR UPDATE",
                        [self.make_and_validate_key(key, version=version)],
                    )
            value = self.get(key, self._missing_key, version=version)
            if value is self._missing_key:
                raise ValueError(f"Key '{key}' not found")
            new_value = value + delta
            # As Django's own incr(): the entry's timeout restarts (django-ratelimit's keys name
            # their window, so a counter outliving it is never read again).
            self.set(key, new_value, version=version)
            return new_value


class OneLineCacheFailure(logging.Filter):
    """Shortens django-redis's log of each failure it ignores to one line.

    It logs the whole traceback, some 60 lines, and while Redis is down every consent, submission
    and statistics page has two such failures: what failed and why is all an operator needs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = "Redis cache unreachable, request served without it: %s"
            record.args = (record.exc_info[1],)
            record.exc_info = record.exc_text = None
        return True
