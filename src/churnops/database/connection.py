"""Opening a connection, and the one-line errors a user can act on."""

from __future__ import annotations

from typing import Any

import psycopg

from churnops.database.url import DatabaseUrl, scrub
from churnops.errors import BadInputError

CONNECT_TIMEOUT_S = 5
APPLICATION = "churnops"


def connect(url: DatabaseUrl, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection to ``url``; ``BadInputError`` naming the URL (without its password) and
    what to do when the URL is invalid, the server is unreachable, refuses the password, the
    role or this host (``pg_hba.conf``), or lacks the database."""
    try:
        return psycopg.connect(
            url.value,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=APPLICATION,
        )
    except psycopg.OperationalError as exc:
        raise connection_error(url, exc) from exc
    except psycopg.ProgrammingError as exc:  # the URL itself: bad %-encoding, unknown parameter
        raise url_error(url, str(exc)) from None


def url_error(url: DatabaseUrl, message: str) -> BadInputError:
    """A URL libpq cannot use (``message``, the driver's words); they can quote the password,
    so it is masked."""
    reason = scrub(message.splitlines()[0], url.value)
    return BadInputError(
        f"database {url}: the URL is invalid ({reason}); it looks like "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with %XX for special characters"
    )


def connection_error(url: DatabaseUrl, exc: psycopg.OperationalError) -> BadInputError:
    """What a failed connection means, in one line. libpq reports these as messages only
    (no SQLSTATE before the session exists), so they are told apart by their wording; a server
    that answered and refused says ``FATAL:``, and is not asked whether it runs."""
    text = str(exc)
    reason = text.splitlines()[0].split("failed: ")[-1].removeprefix("connection is bad: ").strip()
    if reason.startswith("invalid "):  # a value libpq refuses before connecting: port 99999, …
        return url_error(url, reason)
    if "password authentication failed" in text or "no password supplied" in text:
        advice = "the server refused the user or password; check CHURNOPS_DATABASE_URL"
    elif "database" in text and "does not exist" in text:
        name = url_database(url)
        advice = f"the database {name!r} does not exist; create it (createdb {name}), then run "
        advice += "`churnops db upgrade`"
    elif "permission denied for database" in text:
        name = url_database(url)
        advice = f"the user may not connect to the database {name!r} ({reason}); grant it the "
        advice += f"right (GRANT CONNECT ON DATABASE {name} TO …) or use another user"
    elif "pg_hba.conf" in text:  # no entry for them there, or one that rejects them
        advice = f"the server does not allow this host, user and database ({reason}); add an "
        advice += "entry for them to its pg_hba.conf, or use another user or database"
    elif "SSL" in text:  # sslmode=require against a server without SSL, a certificate refused…
        advice = f"the SSL negotiation failed ({reason}); make sslmode and the certificate "
        advice += "options in CHURNOPS_DATABASE_URL match the server's SSL settings"
    elif "FATAL:" in text:  # answered and refused: too many clients, a role that may not log in…
        advice = f"the server refused the connection ({reason}); check CHURNOPS_DATABASE_URL "
        advice += "and the server's settings for this user and database"
    else:  # no answer: connection refused, no such host, timeout
        advice = f"cannot reach the server ({reason}); is PostgreSQL running at that address?"
    return BadInputError(f"database {url}: {advice}")


def url_database(url: DatabaseUrl) -> str:
    """The database a URL names."""
    try:
        return str(psycopg.conninfo.conninfo_to_dict(url.value).get("dbname", ""))
    except psycopg.ProgrammingError as exc:
        raise url_error(url, str(exc)) from None
