"""The project file (churnops.yaml): what it declares, where it is found, and one clear line for
every mistake in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import RunCli

from churnops.errors import BadInputError
from churnops.logstore import MAX_FEATURES
from churnops.project import load_schema, parse_project
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema, default_schema

GOOD = """\
id: customerID
label:
  column: Churn
  churned: [Yes]
  stayed: [No]
features:
  - name: tenure
    type: int
    min: 0
    max: 72
    scale: ratio
  - name: monthly_charges
    column: MonthlyCharges
    type: float
    min: 0
    max: 150
    description: Current bill
  - name: total_charges
    column: TotalCharges
    type: float
    min: 0
    max: 10000
  - name: contract
    column: Contract
    type: categorical
    categories: [Month-to-month, One year, Two year]
    aliases: {monthly: Month-to-month}
  - name: senior
    column: SeniorCitizen
    type: categorical
    categories: [0, 1]
rules:
  - type: product
    result: total_charges
    factors: [tenure, monthly_charges]
    slack: monthly_charges
    impute: false
"""

# The feature_schema every version registered before project files existed carries.
FORMAT_1_DEFAULT = {
    "version": 1,
    "id_column": "customer_id",
    "label": "churn",
    "numeric": [
        {
            "name": "tenure",
            "kind": "int",
            "min": 0.0,
            "max": 72.0,
            "description": "Months as customer",
        },
        {
            "name": "monthly_charges",
            "kind": "float",
            "min": 0.0,
            "max": 500.0,
            "description": "Current bill",
        },
        {
            "name": "total_charges",
            "kind": "float",
            "min": 0.0,
            "max": 50000.0,
            "description": "Billed to date",
        },
    ],
    "categorical": [
        {
            "name": "contract_type",
            "categories": ["Month-to-month", "One year", "Two year"],
            "description": "",
        },
        {
            "name": "payment_method",
            "categories": [
                "Electronic check",
                "Mailed check",
                "Bank transfer (automatic)",
                "Credit card (automatic)",
            ],
            "description": "",
        },
    ],
}


def test_declares_columns_types_labels_and_rules() -> None:
    """Each feature keeps its name (the API's key) and the CSV column it is read from; Yes/No
    and 0/1 stay text; the label's declared values map to 1 and 0; the rule is kept."""
    schema = parse_project(GOOD, "churnops.yaml")
    assert schema.numeric_names == ["tenure", "monthly_charges", "total_charges"]
    assert schema.categorical_names == ["contract", "senior"]
    assert schema.sources() == {
        "customer_id": "customerid",
        "tenure": "tenure",
        "monthly_charges": "monthlycharges",
        "total_charges": "totalcharges",
        "contract": "contract",
        "senior": "seniorcitizen",
        "churn": "churn",
    }
    assert schema.categorical_feature("senior").categories == ("0", "1")
    assert schema.categorical_feature("contract").spellings()["monthly"] == "Month-to-month"
    assert schema.label_values.mapping() == {"no": 0, "yes": 1}
    assert schema.numeric_feature("tenure").scale == "ratio"
    assert schema.numeric_feature("monthly_charges").description == "Current bill"
    (rule,) = schema.rules
    assert (rule.result, rule.factors, rule.impute) == (
        "total_charges",
        ("tenure", "monthly_charges"),
        False,
    )
    # the API and drift keep reading the public names as before
    assert schema.encoded_names[:3] == schema.numeric_names
    assert (schema.id_column, schema.label) == ("customer_id", "churn")


def test_round_trips_through_the_registry() -> None:
    """A declared schema stored with a version reads back identical."""
    schema = parse_project(GOOD, "churnops.yaml")
    assert FeatureSchema.model_validate(json.loads(schema.model_dump_json())) == schema


def test_a_schema_stored_by_earlier_versions_is_the_built_in_one() -> None:
    """Registries written before project files existed still load: their schema (format 1) is
    read as the built-in one, with its aliases and billing rule."""
    assert FeatureSchema.model_validate(FORMAT_1_DEFAULT) == DEFAULT_SCHEMA
    other = {**FORMAT_1_DEFAULT, "categorical": FORMAT_1_DEFAULT["categorical"][:1]}
    loaded = FeatureSchema.model_validate(other)
    assert loaded.categorical_names == ["contract_type"]
    assert loaded.rules == ()


BAD = [
    (
        "unknown-type",
        ("type: int", "type: integer"),
        8,
        "features[0].type",
        "unknown type 'integer'",
    ),
    ("min-above-max", ("max: 72", "max: -3"), 10, "features[0].max", "min 0 is above max -3"),
    ("duplicate-name", ("name: senior", "name: tenure"), 28, "features[4].name", "declared twice"),
    ("empty-categories", ("[0, 1]", "[]"), 31, "features[4].categories", "categories is empty"),
    (
        "label-is-a-feature",
        ("column: SeniorCitizen", "column: churn"),
        29,
        "features[4].column",
        "the label cannot also be a feature",
    ),
    ("yaml-syntax", ("churned: [Yes]", "churned: [Yes"), 5, "not valid YAML", ""),
    (
        "unknown-key",
        ("    slack: monthly", "    slak: monthly"),
        36,
        "rules[0].slak",
        "unknown key",
    ),
    ("repeated-key", ("max: 72\n", "max: 72\n    max: 80\n"), 11, "features[0].max", "twice"),
    (
        "rule-on-text",
        ("result: total_charges", "result: contract"),
        34,
        "rules[0].result",
        "not a numeric",
    ),
    (
        "alias-target",
        ("{monthly: Month-to-month}", "{monthly: Weekly}"),
        27,
        "aliases.monthly",
        "not in categories",
    ),
    (
        "camel-case-name",
        ("name: senior", "name: SeniorCitizen"),
        28,
        "features[4].name",
        "lower-case",
    ),
    ("same-spelling", ("[0, 1]", "[Yes, yes]"), 31, "features[4].categories[1]", "same category"),
    # names the inference log cannot take as columns (PostgreSQL's own, the log's, too long)
    ("system-column", ("name: senior", "name: xmin"), 28, "features[4].name", "reserved"),
    ("log-column", ("name: senior", "name: variant"), 28, "features[4].name", "reserved"),
    ("id-column", ("name: senior", "name: customer_id"), 28, "features[4].name", "reserved"),
    ("long-name", ("name: senior", "name: s" + "e" * 63), 28, "features[4].name", "lower-case"),
    (
        "min-missing",
        ("    min: 0\n    max: 150\n", "    max: 150\n"),
        12,
        "features[1].min",
        "min is missing",
    ),
]


@pytest.mark.parametrize(("_name", "edit", "line", "where", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_wrong_file_gets_one_line_naming_line_and_field(
    _name: str, edit: tuple[str, str], line: int, where: str, words: str
) -> None:
    """Each mistake is one line: the file, the line, the field and what is expected."""
    old, new = edit
    assert old in GOOD
    with pytest.raises(BadInputError) as caught:
        parse_project(GOOD.replace(old, new, 1), "churnops.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"churnops.yaml: line {line}: "), message
    assert where in message and words in message


def test_too_many_features_for_the_log_is_one_line() -> None:
    """More features than the inference log can hold as columns (PostgreSQL: 1,600 per
    table): one line naming the limit, before any data is read."""
    features = "".join(
        f"  - {{name: f{i}, type: float, min: 0, max: 1}}\n" for i in range(MAX_FEATURES + 1)
    )
    text = "label:\n  column: churn\n  churned: [Yes]\nfeatures:\n" + features
    with pytest.raises(BadInputError, match=f"at most {MAX_FEATURES}") as caught:
        parse_project(text, "churnops.yaml")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "- just\n- a list\n", "features: 3\n"], ids=["empty", "list", "no-label"]
)
def test_a_file_that_is_not_a_project_file(text: str) -> None:
    """An empty file, a list or a file without the required keys: one line, bad input."""
    with pytest.raises(BadInputError, match=r"churnops\.yaml: ") as caught:
        parse_project(text, "churnops.yaml")
    assert "\n" not in str(caught.value)


def test_without_a_file_the_built_in_schema_applies(tmp_path: Path) -> None:
    """No churnops.yaml in the home: the built-in schema, with the billing tolerance setting."""
    assert load_schema(None, tmp_path) == DEFAULT_SCHEMA
    assert load_schema(None, tmp_path, tolerance=0.1) == default_schema(0.1)
    (tmp_path / "churnops.yaml").write_text(GOOD, encoding="utf-8")
    assert load_schema(None, tmp_path).categorical_names == ["contract", "senior"]


def test_an_explicit_file_must_exist(tmp_path: Path) -> None:
    """--schema / CHURNOPS_SCHEMA naming a missing file is an error, not the built-in schema."""
    with pytest.raises(BadInputError, match="does not exist"):
        load_schema(tmp_path / "nope.yaml", tmp_path)


def test_a_wrong_file_stops_prepare_and_writes_nothing(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prepare with a wrong project file (--schema or CHURNOPS_SCHEMA): exit 2, one line naming
    the line, nothing written."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("max: 72", "max: -3"), encoding="utf-8")
    source = tmp_path / "in.csv"
    source.write_text("customerID,tenure\nC1,3\n", encoding="utf-8")
    home = tmp_path / "home"
    run = run_cli("prepare", "--home", home, "--input", source, "--schema", bad)
    assert run.code == 2
    (line,) = [text for text in run.err.splitlines() if text.strip()]
    assert "bad.yaml: line 10: features[0].max: min 0 is above max -3" in line
    monkeypatch.setenv("CHURNOPS_SCHEMA", str(bad))
    again = run_cli("prepare", "--home", home, "--input", source)
    assert again.code == 2 and "line 10" in again.err
    assert not home.exists()


def test_the_readme_example_is_a_valid_project_file() -> None:
    """The project file shown in the README reads as the schema it describes."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own data", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    schema = parse_project(example, "README.md")
    assert schema.feature_names == ["tenure", "monthly_charges", "total_charges", "contract"]
    assert schema.categorical_feature("contract").spellings()["1year"] == "One year"
