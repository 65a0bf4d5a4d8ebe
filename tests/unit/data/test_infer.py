"""`churnops init --from FILE`: what it decides for each column, why, and the file it writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import schemas_support as tables
from cli_support import RunCli

from churnops.data import infer
from churnops.data.infer import Draft, draft_project, feature_name, render, schema_of
from churnops.errors import BadInputError
from churnops.schema import spelling_key


def _csv(folder: Path, frame: pd.DataFrame, name: str = "in.csv") -> Path:
    return tables.write_csv(frame, folder / name)


@pytest.fixture(scope="module")
def telecom(tmp_path_factory: pytest.TempPathFactory) -> Draft:
    return draft_project(_csv(tmp_path_factory.mktemp("t"), tables.telecom(2_000)), None, None)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Draft:
    return draft_project(_csv(tmp_path_factory.mktemp("b"), tables.bank(2_000)), None, None)


def roles(draft: Draft) -> dict[str, str]:
    return {d.column: d.role for d in draft.decisions}


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("MonthlyCharges", "monthly_charges"),
        ("customerID", "customer_id"),
        ("StreamingTV", "streaming_tv"),
        ("Credit Score", "credit_score"),
        ("tenure", "tenure"),
        ("2nd line", "f_2nd_line"),
        ("%%", "column"),
    ],
)
def test_feature_names_from_headers(header: str, name: str) -> None:
    """CamelCase and spaced headers become snake_case names the API can use as keys."""
    assert feature_name(header) == name


def test_telecom_export(telecom: Draft) -> None:
    """Text numbers with blanks are numbers, 0/1 and Yes/No columns are categorical, the id and
    the Yes/No label are found, and total ≈ tenure × monthly is proposed as a rule."""
    found = roles(telecom)
    assert found["customerID"] == "id"
    assert found["Churn"] == "label"
    assert (telecom.label.churned[0], telecom.label.stayed[0]) == ("Yes", "No")
    assert found["TotalCharges"] == "float"  # text with blanks (" ") for new customers
    assert found["tenure"] == "int"
    assert found["SeniorCitizen"] == "categorical"  # 0/1
    assert found["Partner"] == "categorical"  # Yes/No
    assert len(telecom.features) == 19
    by_name = {d.name: d for d in telecom.features}
    assert dict(by_name["internet_service"].categories).keys() == {"DSL", "Fiber optic", "No"}
    tenure = by_name["tenure"]
    assert (tenure.low, tenure.high) == (0, 80)  # 0–72 seen, +10 % of 72, not below 0
    (rule,) = telecom.rules
    assert (rule.result, rule.factors) == ("total_charges", ("tenure", "monthly_charges"))


def test_bank_table(bank: Draft) -> None:
    """Row numbers and free text are left out and listed, numeric ids are the id, the 0/1 Exited
    label means churned = 1, and no billing rule is invented."""
    found = roles(bank)
    assert found["RowNumber"] == "left out"
    assert found["Surname"] == "left out"
    assert found["CustomerId"] == "id"
    assert found["Exited"] == "label" and bank.label.churned[0] == "1"
    assert found["NumOfProducts"] == "int" and found["HasCrCard"] == "categorical"
    assert bank.rules == []
    text = render(bank)
    assert "# Left out: RowNumber" in text and "# Left out: Surname" in text


def test_the_draft_is_a_valid_project_file(telecom: Draft, bank: Draft) -> None:
    """The written text reads back as the schema it describes; Yes/No stay quoted text."""
    schema = schema_of(render(telecom))
    assert schema.categorical_feature("partner").categories == ("No", "Yes")
    assert schema.id_source == "customerID" and schema.label_source == "Churn"
    assert schema.numeric_feature("monthly_charges").column == "MonthlyCharges"
    assert "      - 'Yes'  # " in render(telecom)
    assert len(schema_of(render(bank)).feature_names) == 10


def test_category_spellings_are_grouped(tmp_path: Path) -> None:
    """'Month-to-month', 'month to month' and ' MONTH-TO-MONTH' are one category, spelt the most
    frequent way, with the rows of all spellings."""
    plan = ["Month-to-month"] * 5 + ["month to month", " MONTH-TO-MONTH"] + ["One year"] * 3
    frame = pd.DataFrame({"plan": plan, "churn": ["0", "1"] * 5})
    draft = draft_project(_csv(tmp_path, frame), None, None)
    (feature,) = draft.features
    assert feature.categories == (("Month-to-month", 7), ("One year", 3))


def test_many_distinct_values_are_read_in_linear_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It groups the spellings of a column of 3,000 distinct numbers with at most two key
    computations per value (it used to take one per value and earlier category: a minute on a
    6,000-row bank table), and still reads a rare spelling as the category it begins."""
    calls = 0

    def counted(value: str) -> str:
        nonlocal calls
        calls += 1
        return spelling_key(value)

    monkeypatch.setattr(infer, "spelling_key", counted)
    rows = 3_000
    balances = pd.Series([f"{1000 + i * 7.31:.2f}" for i in range(rows)])
    ordered, aliases = infer._spellings(balances)
    assert len(ordered) == rows and aliases == {}
    assert calls <= 2 * rows, calls
    plans = pd.Series(["Credit card (automatic)"] * (rows - 1) + ["credit card"])
    ordered, aliases = infer._spellings(plans)
    assert ordered == [("Credit card (automatic)", rows)]
    assert aliases == {"credit card": "Credit card (automatic)"}


def test_the_label_must_be_named_when_it_is_not_obvious(tmp_path: Path) -> None:
    """Without a churn-like column of two values, init asks for --label; --label must name a
    column with two values."""
    frame = pd.DataFrame({"usage": ["1", "2", "3", "4"], "status": ["a", "b", "a", "b"]})
    path = _csv(tmp_path, frame)
    with pytest.raises(BadInputError, match="--label COLUMN"):
        draft_project(path, None, None)
    assert draft_project(path, "Status", None).label.column == "status"
    with pytest.raises(BadInputError, match="no such column"):
        draft_project(path, "churn", None)
    with pytest.raises(BadInputError, match="4 distinct"):
        draft_project(path, "usage", None)


def test_the_churned_value_is_the_word_that_says_so_else_the_rarer(tmp_path: Path) -> None:
    """'Attrited Customer' means churned, whatever its count; two neutral words: the rarer one."""
    words = ["Attrited Customer"] * 6 + ["Existing Customer"] * 4
    frame = pd.DataFrame({"x": [str(i) for i in range(10)], "Attrition_Flag": words})
    assert draft_project(_csv(tmp_path, frame), None, None).label.churned[0] == "Attrited Customer"
    neutral = frame.assign(Attrition_Flag=["blue"] * 7 + ["green"] * 3)
    assert draft_project(_csv(tmp_path, neutral), None, None).label.churned == ("green", 3)


def test_init_command(run_cli: RunCli, tmp_path: Path) -> None:
    """init writes churnops.yaml in the home and prints its decisions in 80 columns; a second
    init refuses to overwrite it without --force."""
    source = _csv(tmp_path, tables.telecom(500), "telco.csv")
    home = tmp_path / "home"
    run = run_cli("init", "--from", source, "--home", home)
    assert run.code == 0, run.err
    written = (home / "churnops.yaml").read_text(encoding="utf-8")
    assert "column: MonthlyCharges" in written
    assert max(len(line) for line in run.out.splitlines()) <= 80
    assert "TotalCharges" in run.out and "left out" not in written.lower().split("features:")[1]
    again = run_cli("init", "--from", source, "--home", home)
    assert again.code == 2 and "--force" in again.err
    assert (home / "churnops.yaml").read_text(encoding="utf-8") == written
    forced = run_cli("init", "--from", source, "--home", home, "--label", "Churn", "--force")
    assert forced.code == 0, forced.err


def test_init_refuses_an_unreadable_source(run_cli: RunCli, tmp_path: Path) -> None:
    """A missing CSV: exit 2, one line, no file written."""
    run = run_cli("init", "--from", tmp_path / "missing.csv", "--home", tmp_path)
    assert run.code == 2 and "does not exist" in run.err
    assert not (tmp_path / "churnops.yaml").exists()
