"""The database URL, and how it is shown: never with its password."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class DatabaseUrl:
    """A ``postgresql://user:password@host:port/database`` URL; ``str()`` hides the password."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return redact(self.value)

    def __repr__(self) -> str:
        return f"DatabaseUrl({redact(self.value)!r})"


def redact(url: str) -> str:
    """``url`` without its password (in the user part or as a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, hosts = netloc.rpartition("@")
        netloc = user.split(":", 1)[0] + "@" + hosts
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_scheme(url: str) -> str:
    """``url`` if it is a PostgreSQL URL, else ``ValueError`` saying what one looks like."""
    if urlsplit(url).scheme not in SCHEMES:
        raise ValueError(
            "a database URL looks like postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            "(the only database churnops keeps its shared store in)"
        )
    return url
