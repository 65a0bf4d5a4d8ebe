"""The project file's ``costs:`` block: what a wrong decision costs, read for training and
evaluation, and one clear line when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_project_file import GOOD

from churnops.errors import BadInputError
from churnops.model.costs import Costs
from churnops.project import load_costs, load_schema

COSTS = """\
costs:
  false_negative: 200
  false_positive: 20
"""


def test_declared_costs_are_read(tmp_path: Path) -> None:
    """A costs block gives both costs; the schema is read as before."""
    (tmp_path / "churnops.yaml").write_text(GOOD + COSTS, encoding="utf-8")
    assert load_costs(None, tmp_path) == Costs(false_negative=200, false_positive=20)
    assert load_schema(None, tmp_path).categorical_names == ["contract", "senior"]


def test_no_file_or_no_block_means_no_costs(tmp_path: Path) -> None:
    """Without a project file, or without a costs block, no costs are known."""
    assert load_costs(None, tmp_path) is None
    (tmp_path / "churnops.yaml").write_text(GOOD, encoding="utf-8")
    assert load_costs(None, tmp_path) is None


@pytest.mark.parametrize(
    ("block", "line", "where", "words"),
    [
        ("costs:\n  false_negative: 200\n", 1, "costs.false_positive", "required, but missing"),
        (
            "costs:\n  false_negative: -5\n  false_positive: 20\n",
            2,
            "costs.false_negative",
            "greater than 0",
        ),
        (
            "costs:\n  false_negative: 200\n  false_positive: 20\n  currency: EUR\n",
            4,
            "costs.currency",
            "unknown key",
        ),
    ],
    ids=["missing", "negative", "unknown-key"],
)
def test_a_wrong_costs_block_gets_one_line(
    tmp_path: Path, block: str, line: int, where: str, words: str
) -> None:
    """A missing cost, a cost that is not positive or an unknown key: one line naming it."""
    (tmp_path / "churnops.yaml").write_text(GOOD + block, encoding="utf-8")
    with pytest.raises(BadInputError) as caught:
        load_costs(None, tmp_path)
    message = str(caught.value)
    assert "\n" not in message and where in message and words in message, message
    assert f"churnops.yaml: line {len(GOOD.splitlines()) + line}: " in message, message


def test_the_readme_costs_example_is_valid(tmp_path: Path) -> None:
    """The costs block the README shows reads as the example costs."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Threshold from costs.**", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "churnops.yaml").write_text(GOOD + example, encoding="utf-8")
    assert load_costs(None, tmp_path) == Costs(false_negative=200, false_positive=20)
