"""Hostile arguments: versions, times, row counts, chunks, seeds and sizes that once gave
tracebacks, then fuzzing of their parsers and of the commands taking them. Any text gives a
value in range or one line of bad input (exit 2), never a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cli_support import RunCli, assert_one_line_error, registry_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnops import logstore
from churnops.errors import BadInputError
from churnops.monitoring.window import (
    EARLIEST,
    LATEST,
    MAX_ROWS,
    iso,
    parse_chunk,
    parse_time,
    parse_window,
)
from churnops.registry.entries import MAX_VERSION, parse_version

NOW = 1_750_000_000.0
NUMBERS = st.one_of(
    st.integers().map(str),
    st.integers(min_value=0, max_value=10**400).map(str),
    st.floats().map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),  # ٣, １, ²
)
# text a user might type where a version, a time, a count or a chunk is expected
ARGUMENTS = st.one_of(
    st.text(max_size=30),
    NUMBERS,
    st.tuples(st.sampled_from(["", "v", "V", " v"]), NUMBERS).map("".join),
    st.tuples(NUMBERS, st.sampled_from([*"smhdwSMHDWſK", " h", "x"])).map("".join),
    st.tuples(
        st.datetimes().map(lambda moment: moment.isoformat()),
        st.sampled_from(["", "Z", "+05:00", "-14:00", "+23:59"]),
    ).map("".join),
)
QUICK = settings(max_examples=300, deadline=None)


@pytest.fixture
def logged_home(trained_home: Path) -> Path:
    """The trained home with an empty, healthy inference log, as the API creates it."""
    logstore.connect(trained_home / "logs" / "inference.sqlite").close()
    return trained_home


HOSTILE = [
    (["rollback", "--to", "v²"], ["'v²' is not a model version"]),
    (["promote", "v²"], ["'v²' is not a model version"]),
    (["registry", "show", "v²"], ["'v²' is not a model version"]),
    (["registry", "show", "v٣"], ["'v٣' is not a model version"]),
    (["promote", "v１"], ["'v１' is not a model version"]),
    (["evaluate", "v²"], ["'v²' is not a model version"]),
    (["registry", "show", ""], ["'' is not a model version"]),
    (["rollback", "--to", "v99999999999999999999"], ["versions go from v1 to v2147483647"]),
    (["generate", "--seed", "-1"], ["--seed", "greater than or equal to 0"]),
    (["train", "--seed", "4294967296"], ["--seed", "less than or equal to 4294967295"]),
    (["generate", "--rows", "100000000000"], ["100,000,000,000 rows needs about", "GiB"]),
    (["drift", "--version", "v²"], ["'v²' is not a model version"]),
    (["drift", "--version", ""], ["'' is not a model version"]),
    (["drift", "--since", "nan"], ["--since 'nan'"]),
    (["drift", "--until", "1e400"], ["--until '1e400' is outside the years 1-9999"]),
    (["drift", "--since", "5ſ"], ["--since '5ſ'"]),
    (["drift", "--since", ""], ["--since ''"]),
    (["drift", "--since", "99999999999999999999d"], ["longer than the calendar"]),
    (["drift", "--since", "0001-01-01T00:00+05:00"], ["outside the years 1-9999"]),
    (["drift", "--last", "99999999999999999999999"], ["--last", "too large"]),
    (["drift", "--last", "²"], ["--last '²'"]),
    (["drift", "--chunk", "²"], ["--chunk '²'"]),
]


@pytest.mark.parametrize(("args", "words"), HOSTILE, ids=[" ".join(a) for a, _ in HOSTILE])
def test_hostile_arguments_get_one_line(
    run_cli: RunCli, logged_home: Path, args: list[str], words: list[str]
) -> None:
    """Versions in non-ASCII digits or beyond the last number, times that are not finite or
    outside the calendar, huge row counts, seeds numpy cannot take and more rows than memory
    holds are bad input: exit 2, one line naming the problem, nothing changed, and a healthy
    inference log is never called unreadable."""
    before = registry_bytes(logged_home)
    run = run_cli(*args, "--home", logged_home)
    assert_one_line_error(run, 2, *words)
    assert "move it aside" not in run.err
    assert registry_bytes(logged_home) == before


def test_a_bad_chunk_from_the_environment_names_its_variable(
    run_cli: RunCli, logged_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """drift's chunks set by CHURNOPS_DRIFT_CHUNK: the message names the variable, not a
    --chunk that was never given (which still names itself when given)."""
    monkeypatch.setenv("CHURNOPS_DRIFT_CHUNK", "0h")
    run = run_cli("drift", "--home", logged_home)
    assert_one_line_error(run, 2, "CHURNOPS_DRIFT_CHUNK '0h' must be a duration longer than zero")
    run = run_cli("drift", "--chunk", "0d", "--home", logged_home)
    assert_one_line_error(run, 2, "--chunk '0d' must be a duration longer than zero")


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--seed", "-1"], ["seed -1"]), (["--rows", "100000000000"], ["GiB"])],
    ids=["seed", "rows"],
)
def test_simulate_checks_the_generator_arguments(
    run_cli: RunCli, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    """simulate draws its customers from the generator, which refuses a seed numpy cannot take
    and more rows than memory holds, in one line."""
    run = run_cli("simulate", *args, "--out", tmp_path / "rows.csv")
    assert_one_line_error(run, 2, *words)
    assert not (tmp_path / "rows.csv").exists()


def one_line_refusal(error: BadInputError) -> None:
    assert "\n" not in str(error) and str(error)


@QUICK
@given(ARGUMENTS)
def test_parse_version(text: str) -> None:
    """A version is ASCII digits (optionally after v) from 1 to MAX_VERSION, or refused."""
    try:
        number = parse_version(text)
    except BadInputError as error:
        one_line_refusal(error)
        return
    assert 1 <= number <= MAX_VERSION
    assert text.strip().lower().removeprefix("v").isascii()


@QUICK
@given(ARGUMENTS)
def test_parse_time(text: str) -> None:
    """A time is a finite moment within the years 1-9999 that can be printed, or refused."""
    try:
        moment = parse_time(text, NOW, "--since")
    except BadInputError as error:
        one_line_refusal(error)
        return
    assert math.isfinite(moment) and EARLIEST <= moment <= LATEST
    assert iso(moment)


@QUICK
@given(st.one_of(st.none(), ARGUMENTS), st.one_of(st.none(), ARGUMENTS), ARGUMENTS)
def test_parse_window(since: str | None, until: str | None, last: str) -> None:
    """Any --since/--until/--last gives a window that can be described, or one refusal."""
    try:
        window = parse_window(since, until, last, NOW)
    except BadInputError as error:
        one_line_refusal(error)
        return
    assert window.describe()
    assert window.last_rows is None or 1 <= window.last_rows <= MAX_ROWS


@QUICK
@given(ARGUMENTS)
def test_parse_chunk(text: str) -> None:
    """A chunk is auto, a positive finite duration or a row count up to MAX_ROWS."""
    try:
        spec = parse_chunk(text)
    except BadInputError as error:
        one_line_refusal(error)
        return
    assert math.isfinite(spec.size) and spec.size > 0
    assert spec.describe()


# ---- the commands taking them, in-process through the real entry point -----------------------
COMMANDS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_handled(run_cli: RunCli, *args: str | Path) -> None:
    """Exit 0, 1 or 2; a failure is one 'error:' line (or typer's usage message); never a
    traceback, never a healthy inference log called unreadable."""
    run = run_cli(*args)
    assert run.code in (0, 1, 2), run
    assert "Traceback" not in run.err + run.out
    assert "move it aside" not in run.err
    if run.code and "Usage:" not in run.err:
        lines = [line for line in run.err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), run.err


@COMMANDS
@given(ARGUMENTS, st.sampled_from(["show", "promote", "rollback"]))
def test_version_arguments(run_cli: RunCli, trained_home: Path, text: str, command: str) -> None:
    """registry show, promote and rollback --to handle any version text."""
    home = str(trained_home)
    args = {
        "show": ["registry", "show", "--home", home, "--", text],
        "promote": ["promote", "--home", home, "--", text],
        "rollback": ["rollback", "--home", home, f"--to={text}"],
    }[command]
    assert_handled(run_cli, *args)


@COMMANDS
@given(ARGUMENTS, st.sampled_from(["--since", "--until", "--last", "--chunk", "--version"]))
def test_drift_arguments(run_cli: RunCli, logged_home: Path, text: str, option: str) -> None:
    """drift handles any window, chunk or version text against a healthy (empty) log."""
    assert_handled(run_cli, "drift", "--home", logged_home, "--json", f"{option}={text}")
