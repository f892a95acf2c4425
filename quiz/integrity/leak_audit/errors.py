"""The audit's own failure to run, as distinct from a study that fails it."""


class AuditError(Exception):
    """The audit could not be carried out; the message says where it stopped."""
