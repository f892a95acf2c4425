"""The integration tests' real Celery workers, for the job tests that need them."""

from tests.integration.conftest import point_celery_at, start_worker  # noqa: F401 (fixtures)
