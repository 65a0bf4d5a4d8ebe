"""The database URL, and how it is shown: never with its password."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

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
    """``url`` without its password (in the user part or as a ``password=`` parameter).

    Split the way libpq reads a URL, not as ``urllib`` does: the user part runs to the first
    ``@`` before any ``/``, so a password holding ``#`` or ``?`` (which libpq accepts unencoded)
    is still recognised as the password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = _user_end(rest)
    if end >= 0:
        rest = rest[:end].split(":", 1)[0] + rest[end:]
    base, question, query = rest.partition("?")
    if question:
        kept = [p for p in query.split("&") if unquote(p.split("=", 1)[0]) != "password"]
        base += "?" + "&".join(kept) if kept else ""
    return f"{scheme}://{base}"


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message about ``url``) with the URL's passwords masked."""
    rest = url.partition("://")[2]
    end = _user_end(rest)
    password = rest[:end].partition(":")[2] if end >= 0 else ""
    found = [password, unquote(password)]
    for param in rest.partition("?")[2].split("&"):
        key, _, value = param.partition("=")
        if unquote(key) == "password":
            found += [value, unquote(value)]
    for password in filter(None, found):
        text = text.replace(password, "***")
    return text


def _user_end(rest: str) -> int:
    """Where the user part of a URL's ``rest`` (after ``://``) ends: the index of its ``@``,
    or -1 when there is none (libpq looks for ``@`` before the first ``/``)."""
    for i, char in enumerate(rest):
        if char in "@/":
            return i if char == "@" else -1
    return -1


def check_scheme(url: str) -> str:
    """``url`` if it is a PostgreSQL URL, else ``ValueError`` saying what one looks like."""
    if urlsplit(url).scheme not in SCHEMES:
        raise ValueError(
            "a database URL looks like postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            "(the only database churnops keeps its shared store in)"
        )
    return url
