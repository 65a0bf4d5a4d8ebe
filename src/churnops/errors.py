"""Errors a user can fix. The CLI prints them as one line and exits with their code."""


class ChurnopsError(Exception):
    """Base of all expected failures: bad input (exit 2) or a failed check (exit 1)."""

    exit_code = 2


class BadInputError(ChurnopsError):
    """Something given cannot be used: a missing file, wrong columns, an unknown version."""

    exit_code = 2


class CheckFailedError(ChurnopsError):
    """A quality gate or a safety check refused to go on; nothing was changed."""

    exit_code = 1
