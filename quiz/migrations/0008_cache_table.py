"""The shared cache's table (webapp.cache.AtomicDatabaseCache), created by `migrate` itself.

Rate limits and login throttling count in the cache; a deployment that ran `migrate` but not
`createcachetable` would answer every consent with a 500. createcachetable does nothing when the
cache is Redis, and leaves an existing table alone.
"""

from django.core.management import call_command
from django.db import migrations


def _create_cache_table(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("quiz", "0007_job_leases")]

    operations = [migrations.RunPython(_create_cache_table, migrations.RunPython.noop)]
