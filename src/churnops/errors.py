"""Errors a user can fix. The CLI prints them as one line and exits with their code."""


class ChurnopsError(Exception):
    """Base of all expected failures: bad input (exit 2), a failed check (exit 1) or a server
    that cannot start (exit 3)."""

    exit_code = 2


class BadInputError(ChurnopsError):
    """Something given cannot be used: a missing file, wrong columns, an unknown version."""

    exit_code = 2


class CheckFailedError(ChurnopsError):
    """A quality gate or a safety check refused to go on; nothing was changed."""

    exit_code = 1


class CannotServeError(ChurnopsError):
    """The API cannot start: the address it would listen on is taken, or the inference log
    cannot be opened."""

    exit_code = 3
