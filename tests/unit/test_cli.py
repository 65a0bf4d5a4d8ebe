"""The command line's contract: help, --json output, exit codes 0/1/2, one-line errors.

Commands run in-process through ``churnops.cli.main`` (the real entry point and its error
handling, without a new interpreter per call); the help check runs a real process.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
from cli_support import (
    CliRun,
    RunCli,
    assert_one_line_error,
    output_at_width,
    printed_file,
    registry_bytes,
    run_at_width,
)

from churnops.atomic import sha256_file
from churnops.data.generate import generate

HEADER = "customer_id,tenure,monthly_charges,total_charges,contract_type,payment_method,churn"


ROOT = Path(__file__).resolve().parents[2]
Run = CliRun
Churnops = RunCli


@pytest.fixture
def churnops(monkeypatch: pytest.MonkeyPatch, run_cli: RunCli) -> Churnops:
    """``churnops ARGS…`` in-process, with small forests so training is quick."""
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", "20")
    return run_cli


def test_help_in_a_real_process() -> None:
    """`python -m churnops --help` lists every pipeline command and exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "churnops", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in ("generate", "prepare", "train", "evaluate", "promote", "rollback", "registry"):
        assert command in done.stdout


@pytest.mark.parametrize("script", ["train.py", "rollback.py"])
def test_a_lab_script_names_itself_alone_in_its_usage(script: str) -> None:
    """`python src/train.py --help` shows `Usage: train.py [OPTIONS]`, the way it is run, not
    `train.py train [OPTIONS]` (typing `train.py train` is an error)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "src" / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Usage: {script} [OPTIONS]" in done.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["generate"],
        ["prepare"],
        ["train"],
        ["evaluate"],
        ["pipeline"],
        ["promote"],
        ["rollback"],
        ["registry", "list"],
        ["registry", "show"],
        ["registry", "history"],
    ],
)
def test_every_command_has_help(churnops: Churnops, command: list[str]) -> None:
    """Each command answers --help with its usage and the --home option."""
    run = churnops(*command, "--help")
    assert run.code == 0
    assert "Usage" in run.out
    assert "--home" in run.out


@pytest.mark.parametrize(
    ("command", "valued"),
    [
        ([], None),
        (["train"], "--seed"),
        (["rollback"], "--to"),
        (["serve"], "--port"),
    ],
)
def test_help_shows_no_type_after_a_flag(
    churnops: Churnops, command: list[str], valued: str | None
) -> None:
    """Flags (--json, --tune, --version, --help) take no value, so help shows none after them
    (it showed `<bool>`); options that take a value keep their type (`<int>`, or `INTEGER` in
    older typer releases)."""
    run = churnops(*command, "--help")
    assert run.code == 0
    assert "<bool>" not in run.out
    text = " ".join(run.out.replace("│", " ").split())
    assert "--help Show this message and exit." in text
    if valued is not None:
        assert re.search(rf"{valued} (<[a-z]+>|[A-Z]+) ", text), text


def _descriptions(help_text: str) -> dict[str, list[str]]:
    """The Commands panel of ``--help``: each command's description, as its lines (the text
    between the name column and the border, right padding included)."""
    rows = help_text.split("Commands")[1].splitlines()[1:]
    rows = rows[: next(i for i, row in enumerate(rows) if not row.startswith("│"))]
    first = rows[0][2:]
    column = 2 + len(first) - len(first.split(" ", 1)[1].lstrip())  # where descriptions start
    found: dict[str, list[str]] = {}
    for row in rows:
        name, text = row[2:column].strip(), row[column:-1]
        if name:
            found[name] = [text]
        else:
            found[list(found)[-1]].append(text)
    return found


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", ["train", "evaluate", "drift", "score"])
def test_the_command_list_reflows_each_description(columns: int, command: str) -> None:
    """In `churnops --help`, each description is wrapped to the terminal's width, every line
    but its last as full as the next word allows: the descriptions of train, evaluate, drift
    and score also broke where their docstring's source lines did ("passes the gate" ended a
    line of its own at 80 columns, "…only if it passes the gate" at 120)."""
    shown = output_at_width(columns, "--help")
    lines = _descriptions(shown)[command]
    room = len(lines[0]) - 1  # one column of padding before the border
    for line, following in pairwise(lines):
        assert len(line.rstrip()) + 1 + len(following.split()[0]) > room, shown


def test_usage_errors_exit_2(churnops: Churnops) -> None:
    """An unknown option is a usage error: exit 2."""
    assert churnops("prepare", "--no-such-option").code == 2
    assert churnops("no-such-command").code == 2


def test_writing_over_a_folder_names_the_folder(churnops: Churnops, tmp_path: Path) -> None:
    """An output path that is a folder is named in the error, not the temporary file beside it."""
    (tmp_path / "data" / "raw.csv").mkdir(parents=True)
    run = churnops("generate", "--home", tmp_path, "--rows", "10")
    assert_one_line_error(run, 2, f"({tmp_path / 'data' / 'raw.csv'})")
    assert ".tmp" not in run.err


def test_generate_json(churnops: Churnops, tmp_path: Path) -> None:
    """generate --json prints the metadata it wrote, and honours --rows and --seed."""
    run = churnops("generate", "--home", tmp_path, "--rows", "500", "--seed", "3", "--json")
    assert run.code == 0
    meta = run.json()
    assert (meta["rows"], meta["seed"]) == (500, 3)
    assert meta == json.loads((tmp_path / "data" / "raw.meta.json").read_text("utf-8"))


def test_generate_keeps_a_raw_csv_it_did_not_write(churnops: Churnops, tmp_path: Path) -> None:
    """Your own data/raw.csv (no raw.meta.json beside it, or copied over a generated one) is
    refused: exit 2, one line naming it and --force, the file untouched; generate replaces its
    own file, and with --force any file."""
    raw = tmp_path / "data" / "raw.csv"
    raw.parent.mkdir()
    mine = HEADER + "\nc1,3,20,60,month-to-month,card,0\n"
    raw.write_text(mine, encoding="utf-8")
    run = churnops("generate", "--home", tmp_path, "--rows", "50")
    assert_one_line_error(run, 2, str(raw), "already exists", "churnops generate --force")
    assert raw.read_text(encoding="utf-8") == mine

    assert churnops("generate", "--home", tmp_path, "--rows", "50", "--force").code == 0
    assert churnops("generate", "--home", tmp_path, "--rows", "60").code == 0  # its own file
    raw.write_text(mine, encoding="utf-8")  # copied over the generated file, meta still there
    assert_one_line_error(churnops("generate", "--home", tmp_path), 2, "already exists")
    assert raw.read_text(encoding="utf-8") == mine


def test_generate_summary_is_human_readable(churnops: Churnops, tmp_path: Path) -> None:
    """Without --json the summary is a table, not JSON."""
    run = churnops("generate", "--home", tmp_path, "--rows", "200")
    assert run.code == 0
    assert "oracle_roc_auc" in run.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(run.out)


def test_generate_names_its_file_unbroken(tmp_path: Path) -> None:
    """At 80 columns the written file's path is one line (as the table's title it broke to the
    table's width)."""
    home = tmp_path / "a-project-folder-whose-name-is-long-enough-to-wrap"
    shown = output_at_width(80, "generate", "--home", home, "--rows", "200")
    assert printed_file(shown, "generated") == home / "data" / "raw.csv"


def test_generate_says_why_it_wrote_more_rows_than_customers(
    churnops: Churnops, tmp_path: Path
) -> None:
    """rows_written exceeds rows by the repeated customer ids, dirt for prepare's checks, and
    the summary says so (it showed `rows 2000` and `rows_written 2010` unexplained)."""
    run = churnops("generate", "--home", tmp_path, "--rows", "2000")
    assert run.code == 0, run.err
    said = " ".join(run.out.split())
    assert "rows_written = rows + 10 repeated customer ids: dirt put in on purpose" in said
    assert "for prepare's checks to catch" in said


@pytest.fixture
def prepared_home(churnops: Churnops, tmp_path: Path) -> Path:
    """A home with 2,000 generated rows prepared into data/processed.csv."""
    home = tmp_path / "home"
    assert churnops("generate", "--home", home, "--rows", "2000").code == 0
    assert churnops("prepare", "--home", home).code == 0
    return home


def test_prepare_json(churnops: Churnops, prepared_home: Path) -> None:
    """prepare --json prints the quality report it wrote."""
    run = churnops("prepare", "--home", prepared_home, "--json")
    assert run.code == 0
    report = run.json()
    assert report == json.loads((prepared_home / "data/quality_report.json").read_text("utf-8"))
    assert report["rows_clean"] + report["rows_rejected"] == report["rows_read"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["does not exist"]),
        ("", ["is empty"]),
        (HEADER + "\n", ["no rows"]),
        ("just some words\nand, then, more, words\n", ["not a readable CSV"]),
        ("customer_id;tenure;churn\nC1;12;1\n", ["missing required column", "monthly_charges"]),
    ],
    ids=["missing", "empty", "header-only", "garbage", "semicolons"],
)
def test_unusable_input_exits_2_and_keeps_processed_csv(
    churnops: Churnops, prepared_home: Path, content: str | None, words: list[str]
) -> None:
    """A missing, empty, header-only, non-CSV or wrongly-shaped input is bad input: exit 2, one
    line, and data/processed.csv keeps its bytes."""
    processed = prepared_home / "data" / "processed.csv"
    before = processed.read_bytes()
    source = prepared_home / "input.csv"
    if content is not None:
        source.write_text(content, encoding="utf-8")
    run = churnops("prepare", "--home", prepared_home, "--input", source)
    assert_one_line_error(run, 2, *words)
    assert processed.read_bytes() == before


def test_a_missing_input_gets_a_hint_that_fits(churnops: Churnops, tmp_path: Path) -> None:
    """A missing --input file: check that path (not "pass --input FILE", which the user did);
    no --input and no data/raw.csv: generate it or pass --input."""
    given = churnops("prepare", "--home", tmp_path, "--input", tmp_path / "nope.csv")
    assert_one_line_error(given, 2, "nope.csv does not exist; check the path given to --input")
    assert "pass --input" not in given.err
    default = churnops("prepare", "--home", tmp_path)
    assert_one_line_error(default, 2, "raw.csv does not exist", "churnops generate", "--input")


def test_a_latin1_csv_exits_2(churnops: Churnops, prepared_home: Path) -> None:
    """A Latin-1 export (accented category) is bad input, not a traceback."""
    source = prepared_home / "latin1.csv"
    source.write_bytes(f"{HEADER}\nC1,1,20,20,Caf\xe9,Mailed check,1\n".encode("latin-1"))
    run = churnops("prepare", "--home", prepared_home, "--input", source)
    assert_one_line_error(run, 2)


def test_quality_gate_exits_1_and_keeps_processed_csv(
    churnops: Churnops, prepared_home: Path
) -> None:
    """Above --max-reject-rate, prepare exits 1 and data/processed.csv keeps its bytes."""
    processed = prepared_home / "data" / "processed.csv"
    before = processed.read_bytes()
    run = churnops("prepare", "--home", prepared_home, "--max-reject-rate", "0.001")
    assert run.code == 1
    assert "quality gate failed" in run.err and "Traceback" not in run.err
    assert processed.read_bytes() == before


def test_all_labels_missing_exits_1(churnops: Churnops, prepared_home: Path) -> None:
    """A CSV without a single usable label fails the gate: exit 1."""
    source = prepared_home / "unlabelled.csv"
    source.write_text(f"{HEADER}\nC1,1,20,20,One year,Mailed check,\n", encoding="utf-8")
    run = churnops("prepare", "--home", prepared_home, "--input", source, "--max-reject-rate", "1")
    assert_one_line_error(run, 1, "label")


def test_invalid_setting_exits_2(churnops: Churnops, prepared_home: Path) -> None:
    """A flag value outside its range is bad input: exit 2 naming the flag."""
    run = churnops("prepare", "--home", prepared_home, "--max-reject-rate", "5")
    assert_one_line_error(run, 2, "--max-reject-rate")


# ---- train and the registry commands ---------------------------------------------------------
def test_train_says_what_its_oracle_auc_was_computed_on(
    churnops: Churnops, prepared_home: Path
) -> None:
    """The oracle AUC train prints is the generator's, over every customer generated: it is
    labelled so, with why the hold-out AUC can exceed it, not called a "ceiling"."""
    run = churnops("train", "--home", prepared_home)
    assert run.code == 0, run.err
    said = " ".join(run.out.split())
    assert "oracle roc_auc (all generated)" in said
    assert "scored on every customer it generated, not on this hold-out" in said
    assert "ceiling" not in said


def test_train_fits_its_verdict_in_80_columns(
    prepared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns the version's verdict is one line and the model's file is on a line of
    its own, unbroken (the verdict ended with the file name in brackets and wrapped)."""
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", "20")
    shown = output_at_width(80, "train", "--home", prepared_home)
    assert re.search(r"^v1 current: passed the gate \(ROC AUC [\d.]+ ≥ [\d.]+\)$", shown, re.M)
    model = printed_file(shown, "model")
    assert model.parent == prepared_home / "models" and model.suffix == ".joblib"
    assert all(len(line) <= 80 for line in shown.splitlines() if not line.startswith("model: "))


def test_train_and_registry_json(churnops: Churnops, prepared_home: Path) -> None:
    """train, registry list/show/history and rollback --list all print parseable JSON that
    agrees with each other."""
    trained = churnops("train", "--home", prepared_home, "--json")
    assert trained.code == 0, trained.err
    result = trained.json()
    assert (result["version"], result["status"], result["promoted"]) == (1, "current", True)
    assert result["oracle_roc_auc"] == result["metrics"]["oracle_roc_auc"]
    listed = churnops("registry", "list", "--home", prepared_home, "--json").json()
    assert [(v["version"], v["status"], v["file"]) for v in listed] == [
        (1, "current", result["file"])
    ]
    shown = churnops("registry", "show", "v1", "--home", prepared_home, "--json").json()
    assert shown["file"] == result["file"]
    assert shown["feature_schema"]["label"] == "churn"
    current = churnops("registry", "show", "--home", prepared_home, "--json").json()
    assert current == shown
    history = churnops("registry", "history", "--home", prepared_home, "--json").json()
    assert [(e["seq"], e["action"], e["to_version"]) for e in history] == [(1, "register", 1)]
    candidates = churnops("rollback", "--list", "--home", prepared_home, "--json")
    assert candidates.code == 0 and candidates.json() == []


def test_registry_tables_are_human_readable(churnops: Churnops, trained_home: Path) -> None:
    """Without --json the registry commands print tables naming the version."""
    for command in (["registry", "list"], ["registry", "show"], ["registry", "history"]):
        run = churnops(*command, "--home", trained_home)
        assert run.code == 0
        assert "v1" in run.out


def test_gate_rejection_exits_1(
    churnops: Churnops, trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHURNOPS_MIN_AUC=0.99 makes train register a rejected version and exit 1, still printing
    its result."""
    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0.99")
    run = churnops("train", "--home", trained_home, "--json")
    assert run.code == 1
    assert (run.json()["version"], run.json()["status"]) == (2, "rejected")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["registry", "show", "v9"], 2, ["no model version v9", "registered: v1"]),
        (["promote", "v9"], 2, ["no model version v9"]),
        (["promote", "latest"], 2, ["like v3"]),
        (["rollback", "--to", "v0"], 2, ["no model version v0"]),
        (["promote", "v1"], 1, ["already the current version"]),
        (["evaluate", "v7"], 2, ["no model version v7"]),
    ],
)
def test_registry_errors(
    churnops: Churnops, trained_home: Path, args: list[str], code: int, words: list[str]
) -> None:
    """Unknown versions are bad input (2); refused moves are failed checks (1); one line each."""
    assert_one_line_error(churnops(*args, "--home", trained_home), code, *words)


def test_empty_registry(churnops: Churnops, tmp_path: Path) -> None:
    """On an empty registry: list says so, rollback, promote and evaluate say to train first,
    an experiment finds no champion; none of them creates the registry folder."""
    run = churnops("registry", "list", "--home", tmp_path, "--json")
    assert (run.code, run.json()) == (0, [])
    assert churnops("registry", "history", "--home", tmp_path, "--json").json() == []
    assert_one_line_error(churnops("rollback", "--home", tmp_path), 2, "churnops train")
    assert_one_line_error(churnops("promote", "v1", "--home", tmp_path), 2, "churnops train")
    assert_one_line_error(churnops("evaluate", "--home", tmp_path), 2, "churnops train")
    start = churnops("experiment", "start", "--challenger", "v1", "--home", tmp_path)
    assert_one_line_error(start, 2, "no champion")
    shown = churnops("registry", "show", "--home", tmp_path)
    assert_one_line_error(shown, 2, "the registry is empty; run `churnops train` first")
    assert list(tmp_path.iterdir()) == []


READS_A_PROJECT = [
    ["registry", "list"],
    ["registry", "show"],
    ["registry", "history"],
    ["promote", "v1"],
    ["rollback"],
    ["evaluate"],
    ["prepare"],
    ["train"],
    ["drift"],
    ["simulate", "--out", "rows.csv"],
    ["score", "--input", "in.csv", "--output", "out.parquet", "--workers", "1"],
    ["logs", "stats"],
    ["logs", "export", "--output", "log.csv"],
    ["logs", "prune", "--older-than", "90d"],
    ["labels", "import", "outcomes.csv"],
    ["labels", "changes"],
    ["performance"],
    ["experiment", "start", "--challenger", "v2"],
    ["experiment", "status"],
    ["experiment", "report"],
    ["experiment", "stop"],
]


@pytest.mark.parametrize("command", READS_A_PROJECT, ids=" ".join)
def test_a_home_that_does_not_exist_is_refused(
    churnops: Churnops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """In file mode, a command that reads or changes a project (prepare and train without a
    file of their own), given a --home that does not exist, says so in one line (exit 2)
    instead of reporting an empty project, and creates nothing."""
    monkeypatch.delenv("CHURNOPS_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-such-folder"
    run = churnops(*command, "--home", missing)
    words = (f"project folder {missing} does not exist: check --home", "churnops init --from")
    assert_one_line_error(run, 2, *words)
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_a_home_that_does_not_exist(
    churnops: Churnops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve does not start on a --home that does not exist (it served nothing, 503, until
    stopped). Its port is taken, so a serve that ignored the home would stop there (exit 3)
    instead of serving."""
    monkeypatch.delenv("CHURNOPS_DATABASE_URL", raising=False)
    missing = tmp_path / "no-such-folder"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = churnops("serve", "--home", missing, "--port", str(taken.getsockname()[1]))
    assert_one_line_error(run, 2, f"project folder {missing} does not exist: check --home")
    assert not missing.exists()


def test_a_home_that_is_a_file_or_missing_by_variable_is_refused(
    churnops: Churnops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --home that is a file is refused; a missing CHURNOPS_HOME is named as the culprit."""
    monkeypatch.delenv("CHURNOPS_DATABASE_URL", raising=False)
    afile = tmp_path / "home.txt"
    afile.write_text("not a project\n", encoding="utf-8")
    run = churnops("registry", "list", "--home", afile)
    assert_one_line_error(run, 2, f"project folder {afile} is a file, not a folder: check --home")
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path / "gone"))
    run = churnops("registry", "list")
    assert_one_line_error(run, 2, "does not exist: check CHURNOPS_HOME")


def test_a_project_starts_in_a_folder_that_does_not_exist(
    churnops: Churnops, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate, init and prepare --input create a new project folder; the db commands do not
    use the home, so a missing one does not stop them (they say the database is not set)."""
    monkeypatch.delenv("CHURNOPS_DATABASE_URL", raising=False)
    assert churnops("generate", "--home", tmp_path / "a", "--rows", "500").code == 0
    raw = tmp_path / "a" / "data" / "raw.csv"
    assert churnops("init", "--from", raw, "--home", tmp_path / "b").code == 0
    assert (tmp_path / "b" / "churnops.yaml").is_file()
    assert churnops("prepare", "--input", raw, "--home", tmp_path / "c").code == 0
    assert (tmp_path / "c" / "data" / "processed.csv").is_file()
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path / "gone"))
    assert_one_line_error(churnops("db", "status"), 2, "CHURNOPS_DATABASE_URL is not set")


def test_home_before_the_command(
    churnops: Churnops, trained_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`churnops --home DIR COMMAND` is `churnops COMMAND --home DIR` (it was refused: no such
    option), for a group's command too; given on both sides, the command's own wins."""
    monkeypatch.delenv("CHURNOPS_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # the default home: an empty folder, no registry
    after = churnops("registry", "list", "--home", trained_home, "--json")
    before = churnops("--home", trained_home, "registry", "list", "--json")
    assert before.code == 0, before.err
    assert before.json() == after.json() and [row["version"] for row in after.json()] == [1]
    both = churnops("--home", trained_home, "registry", "list", "--home", trained_home, "--json")
    assert both.code == 0 and both.json() == after.json()
    other = tmp_path / "other"
    other.mkdir()
    own = churnops("--home", trained_home, "registry", "list", "--home", other, "--json")
    assert (own.code, own.json()) == (0, [])
    assert list(other.iterdir()) == []
    made = churnops("--home", tmp_path / "new", "generate", "--rows", "500")
    assert made.code == 0, made.err
    assert (tmp_path / "new" / "data" / "raw.csv").is_file()
    missing = churnops("--home", tmp_path / "gone", "logs", "stats")
    assert_one_line_error(missing, 2, f"project folder {tmp_path / 'gone'} does not exist")
    shown = re.sub(r"[│\s]+", " ", churnops("--help").out)  # the help panel's text, unwrapped
    assert "`churnops --home DIR COMMAND` is `churnops COMMAND --home DIR`" in shown
    assert "a --home after the command wins" in shown


def test_an_error_shows_brackets_in_a_path_as_given(churnops: Churnops, tmp_path: Path) -> None:
    """A one-line error names the path as typed: "[bold]" in it is text, not terminal markup
    (it vanished from the message, which then named another path)."""
    missing = tmp_path / "[bold]x.csv"
    run = churnops("prepare", "--input", missing, "--home", tmp_path)
    assert_one_line_error(run, 2, f"{missing} does not exist")


def test_registry_show_without_a_current_version_is_bad_input(
    churnops: Churnops, prepared_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a rejected v1, none current: `registry show` asks for a version, exit 2 (bad input,
    as evaluate's same refusal and an unknown version are), not 1 (a failed check)."""
    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0.99")
    assert churnops("train", "--home", prepared_home).code == 1
    shown = churnops("registry", "show", "--home", prepared_home)
    assert_one_line_error(shown, 2, "no version is current", "`churnops registry show v1`")
    assert_one_line_error(churnops("evaluate", "--home", prepared_home), 2, "no version is current")


def test_rollback_without_an_earlier_version_says_what_there_is(
    churnops: Churnops, trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With v1 alone, rollback says there is no other version, not "pick one with --to vN";
    with a rejected v2 beside it, no version was current before v1, so it suggests --to."""
    run = churnops("rollback", "--home", trained_home)
    assert_one_line_error(run, 1, "v1 is the only version; there is no other to roll back to")
    assert "--to" not in run.err
    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0.99")
    assert churnops("train", "--home", trained_home).code == 1
    run = churnops("rollback", "--home", trained_home)
    assert_one_line_error(run, 1, "no earlier current version", "--to vN")


def test_corrupted_metadata_exits_2(churnops: Churnops, trained_home: Path) -> None:
    """A metadata.json that is not JSON stops every registry command with exit 2, one line."""
    metadata = trained_home / "registry" / "metadata.json"
    metadata.write_text("{not json", encoding="utf-8")
    for args in (["registry", "list"], ["rollback"], ["evaluate"]):
        assert_one_line_error(churnops(*args, "--home", trained_home), 2, "metadata.json")


def test_evaluate_json(churnops: Churnops, trained_home: Path) -> None:
    """evaluate --json prints the customers scored, one entry per version with its metrics, and
    the paths of the figures and the page."""
    run = churnops("evaluate", "v1", "--home", trained_home, "--json")
    assert run.code == 0, run.err
    result = run.json()
    (entry,) = result["versions"]
    assert entry["version"] == "v1"
    assert result["data"]["rows"] == entry["metrics"]["rows"]
    assert (
        Path(result["figures"]["roc"]).is_file() and Path(result["figures"]["confusion"]).is_file()
    )
    assert Path(result["html"]).is_file()
    assert 0.5 < entry["metrics"]["roc_auc"] <= 1


def test_evaluate_names_its_customers_on_one_line(trained_home: Path) -> None:
    """At 80 columns, which customers were scored is one line (as the table's title it wrapped
    over three, to the table's width), and the page's path is never broken."""
    shown = output_at_width(80, "evaluate", "--home", trained_home)
    assert re.search(
        r"^Evaluation on the hold-out of v1: [\d,]+ customers it was not trained on$", shown, re.M
    ), shown
    assert printed_file(shown, "report").name == "report.html"


@pytest.mark.parametrize("columns", [80, 100])
def test_simulate_never_breaks_a_path_or_a_command(
    trained_home: Path, tmp_path: Path, columns: int
) -> None:
    """`simulate --out --outcomes` names the rows' file and `churnops labels import FILE` each
    unbroken (at 80 and 100 columns they broke inside the path)."""
    folder = tmp_path / "simulated-customers-for-the-drift-and-performance-walkthrough"
    folder.mkdir()
    rows, outcomes = folder / "rows.csv", folder / "outcomes.csv"
    args = ("--home", trained_home, "--rows", "50", "--out", rows, "--outcomes", outcomes)
    done = run_at_width(columns, "simulate", *args)
    assert f" to {rows}\n" in done.stdout, done.stdout
    assert f"`churnops labels import {outcomes}`" in done.stderr, done.stderr


def _tiny_training_file(folder: Path, churners: list[int]) -> Path:
    """40 clean customers of whom only ``churners`` churn."""
    frame = generate(40, seed=1, dirt=False).frame.assign(churn=0)
    frame.loc[churners, "churn"] = 1
    path = folder / "tiny.csv"
    frame.to_csv(path, index=False)
    return path


def test_training_on_a_single_churner_is_bad_input(churnops: Churnops, tmp_path: Path) -> None:
    """Data with one churner cannot be split into training and hold-out: exit 2, one line."""
    data = _tiny_training_file(tmp_path, [3])
    assert_one_line_error(churnops("train", "--home", tmp_path, "--data", data), 2)


def test_a_missing_data_file_gets_a_hint_that_fits(churnops: Churnops, tmp_path: Path) -> None:
    """`train --data` with a missing file: check that path (not "run `churnops prepare`", which
    makes data/processed.csv, not the given file); no --data: prepare first."""
    given = churnops("train", "--home", tmp_path, "--data", tmp_path / "nope.csv")
    assert_one_line_error(given, 2, "nope.csv does not exist; check the path given to --data")
    assert "prepare" not in given.err
    default = churnops("train", "--home", tmp_path)
    assert_one_line_error(default, 2, "processed.csv does not exist", "run `churnops prepare`")


def test_refusing_a_rejected_version_suggests_a_command_that_exists(
    churnops: Churnops, trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refusing `rollback --to` a gate-rejected version suggests a command that exists."""
    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0.99")
    assert churnops("train", "--home", trained_home).code == 1
    refused = churnops("rollback", "--to", "v2", "--home", trained_home)
    assert_one_line_error(refused, 1, "--force")
    if "promote" not in refused.err:
        assert churnops("rollback", "--to", "v2", "--force", "--home", trained_home).code == 0


# ---- hostile arguments and tampered registries: one line, never a traceback (issue 7) --------
def test_an_empty_rollback_target_is_refused(churnops: Churnops, trained_home: Path) -> None:
    """`rollback --to ''` is bad input, not a silent rollback to the previous version."""
    assert churnops("train", "--home", trained_home).code == 0
    before = registry_bytes(trained_home)
    assert_one_line_error(churnops("rollback", "--to", "", "--home", trained_home), 2, "''")
    assert registry_bytes(trained_home) == before


def test_rollback_to_a_file_outside_models_changes_nothing(
    churnops: Churnops, trained_home: Path
) -> None:
    """v1's file set to ../…/etc/passwd with a matching SHA-256 makes `rollback --to v1` fail
    with one line; the pointer and the rest of the registry keep their bytes."""
    assert churnops("train", "--home", trained_home).code == 0
    metadata = trained_home / "registry" / "metadata.json"
    raw = json.loads(metadata.read_text("utf-8"))
    raw["versions"][0]["file"] = "../" * 40 + "etc/passwd"
    raw["versions"][0]["sha256"] = sha256_file(Path("/etc/passwd"))
    metadata.write_text(json.dumps(raw), encoding="utf-8")
    before = registry_bytes(trained_home)
    run = churnops("rollback", "--to", "v1", "--home", trained_home)
    assert_one_line_error(run, 2, "versions.0.file", "inside models/")
    assert registry_bytes(trained_home) == before


def test_a_file_named_like_a_huge_version_does_not_set_the_next_one(
    churnops: Churnops, trained_home: Path
) -> None:
    """models/churn_model_v9223372036854775807_….onnx does not make train register
    v9223372036854775808: numbers come from the registry."""
    stray = trained_home / "models" / "churn_model_v9223372036854775807_20240101_000000.onnx"
    stray.write_bytes(b"stray")
    run = churnops("train", "--home", trained_home, "--json")
    assert run.code == 0, run.err
    assert run.json()["version"] == 2


def test_train_lists_the_leftovers_it_removed(churnops: Churnops, trained_home: Path) -> None:
    """A killed training's artifacts, untouched for over an hour, are removed by the next train
    and listed in its --json output and its terminal summary."""
    models = trained_home / "models"
    names = ["churn_model_v7_20240101_000000.joblib", "churn_model_v7_20240101_000000.onnx"]
    for name in names:
        (models / name).write_bytes(b"orphan")
        os.utime(models / name, (time.time() - 7200, time.time() - 7200))
    run = churnops("train", "--home", trained_home, "--json")
    assert run.code == 0, run.err
    assert run.json()["removed"] == [f"models/{name}" for name in names]
    assert not any((models / name).exists() for name in names)
    (models / names[0]).write_bytes(b"orphan")
    os.utime(models / names[0], (time.time() - 7200, time.time() - 7200))
    shown = churnops("train", "--home", trained_home, "--seed", "5")  # a new model: registered
    assert shown.code == 0, shown.err
    assert "removed 1 leftover(s) of interrupted trainings" in shown.out
    assert f"models/{names[0]}" in shown.out


def test_performance_help_shows_the_defaults_it_uses(churnops: Churnops) -> None:
    """--min-per-class and --max-drop say their defaults, as --chunk and the other options do."""
    from churnops.settings import Settings

    run = churnops("performance", "--help")
    assert run.code == 0
    text = " ".join(run.out.replace("│", " ").split())
    fields = Settings.model_fields
    assert f"for a number [{fields['performance_min_per_class'].default}]" in text
    assert f"below hold-out [{fields['performance_max_auc_drop'].default}]" in text
