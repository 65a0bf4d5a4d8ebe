"""The project file, ``churnops.yaml``: the user's declaration of their customer table.

It names the id column, the label column and which of its values mean churned, each feature
(the name the API and the reports use, the CSV column it is read from, its type and allowed
values), optional data rules and optionally what a wrong decision costs (``costs:``, for the
decision threshold). It is read into a ``FeatureSchema``; without a file the built-in schema
applies. A wrong file gives one line naming its line, the field and what is
expected::

    churnops.yaml: line 14: features[3].max: min 10 is above max 5; make min ≤ max
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from churnops import logstore
from churnops.errors import BadInputError
from churnops.model.costs import Costs
from churnops.schema import (
    CategoricalFeature,
    FeatureSchema,
    LabelValues,
    NumericFeature,
    ProductRule,
    default_schema,
    label_key,
    spelling_key,
)

PROJECT_FILE = "churnops.yaml"
MAX_FILE_BYTES = 1 << 20
# at most 63 characters: PostgreSQL cuts longer identifiers, so two long names could collide
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
# names the prepared table and the inference log already use for something else
RESERVED_NAMES = frozenset({"id", *logstore.typed_columns(None), *logstore.SYSTEM_COLUMNS})

Path_ = tuple[str | int, ...]


def _problem(message: str, at: Path_ = ()) -> PydanticCustomError:
    """A validation error at ``at`` (relative to where it is raised), for the line lookup."""
    return PydanticCustomError("project_file", "{message}", {"message": message, "at": at})


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads yes/no/on/off as booleans; here they stay text (a category "Yes")."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class FeatureEntry(BaseModel):
    """One item of ``features:``."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str
    type: Literal["int", "float", "categorical"]
    column: str | None = None
    description: str = ""
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    scale: Literal["ratio", "interval"] | None = None
    categories: list[str] | None = None
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not NAME_PATTERN.fullmatch(name):
            raise _problem(
                f"name {name!r} must be lower-case letters, digits and _, starting with a letter "
                "(e.g. monthly_charges); the CSV header goes under column:"
            )
        if name in RESERVED_NAMES:
            raise _problem(f"name {name!r} is reserved; call the feature something else")
        return name

    @model_validator(mode="after")
    def _fits_its_type(self) -> FeatureEntry:
        if self.type == "categorical":
            self._check_categorical()
        else:
            self._check_numeric()
        return self

    def _check_numeric(self) -> None:
        for key in ("categories", "aliases"):
            if getattr(self, key):
                raise _problem(f"{key} is for categorical features, not {self.type}", (key,))
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is None:
                raise _problem(f"{key} is missing; a numeric feature needs min and max", (key,))
            if self.type == "int" and not float(value).is_integer():
                raise _problem(f"{key} {value} of an int feature must be a whole number", (key,))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _problem(f"min {self.min:g} is above max {self.max:g}; make min ≤ max", ("max",))

    def _check_categorical(self) -> None:
        for key in ("min", "max", "scale"):
            if getattr(self, key) is not None:
                raise _problem(f"{key} is for numeric features, not categorical", (key,))
        if not self.categories:
            raise _problem("categories is empty; list the allowed values", ("categories",))
        seen: dict[str, str] = {}
        for index, category in enumerate(self.categories):
            key = spelling_key(category)
            if key in seen:
                raise _problem(
                    f"{category!r} and {seen[key]!r} are the same category once case, spaces "
                    "and punctuation are ignored; keep one",
                    ("categories", index),
                )
            seen[key] = category
        for alias, target in self.aliases.items():
            if target not in self.categories:
                raise _problem(
                    f"alias {alias!r} points to {target!r}, which is not in categories",
                    ("aliases", alias),
                )

    def source(self) -> str:
        return (self.column or self.name).strip().lower()

    def to_feature(self) -> NumericFeature | CategoricalFeature:
        if self.type == "categorical":
            return CategoricalFeature(
                name=self.name,
                categories=tuple(self.categories or ()),
                description=self.description,
                column=self.column,
                aliases=self.aliases,
            )
        return NumericFeature(
            name=self.name,
            kind=self.type,
            min=float(self.min or 0),
            max=float(self.max or 0),
            description=self.description,
            column=self.column,
            scale=self.scale,
        )


class LabelEntry(BaseModel):
    """``label:``: the CSV column and which values mean churned / stayed (any case)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    column: str
    churned: list[str] = Field(default=["1", "true", "yes"], min_length=1)
    stayed: list[str] = Field(default=["0", "false", "no"], min_length=1)

    @model_validator(mode="after")
    def _disjoint(self) -> LabelEntry:
        churned = {label_key(v) for v in self.churned}
        for index, value in enumerate(self.stayed):
            if label_key(value) in churned:
                raise _problem(f"{value!r} cannot mean both churned and stayed", ("stayed", index))
        return self


class ProjectFile(BaseModel):
    """The whole of ``churnops.yaml``."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    id: str | None = None
    label: LabelEntry
    features: list[FeatureEntry] = Field(min_length=1, max_length=logstore.MAX_FEATURES)
    rules: list[ProductRule] = Field(default_factory=list)
    costs: Costs | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProjectFile:
        fields = FeatureSchema.model_fields
        taken = {fields["id_column"].default, fields["label"].default}  # the prepared table's
        label_column = self.label.column.strip().lower()
        id_column = (self.id or fields["id_column"].default).strip().lower()
        if id_column == label_column:
            raise _problem(f"the id column {self.id!r} is also the label column", ("id",))
        names: dict[str, int] = {}
        columns: dict[str, int] = {}
        for index, feature in enumerate(self.features):
            at = ("features", index)
            if feature.name in taken:
                raise _problem(f"name {feature.name!r} is reserved for the id or the label", at)
            if feature.name in names:
                first = names[feature.name]
                raise _problem(
                    f"feature {feature.name!r} is declared twice (also features[{first}])",
                    (*at, "name"),
                )
            names[feature.name] = index
            source = feature.source()
            where = (*at, "column" if feature.column else "name")
            if source == label_column:
                raise _problem(
                    f"feature {feature.name!r} reads {self.label.column!r}, the label column; "
                    "the label cannot also be a feature",
                    where,
                )
            if source == id_column:
                raise _problem(f"feature {feature.name!r} reads the id column {id_column!r}", where)
            if source in columns:
                raise _problem(
                    f"column {source!r} is read twice (also by features[{columns[source]}])", where
                )
            columns[source] = index
        self._check_rules({f.name for f in self.features if f.type != "categorical"})
        return self

    def _check_rules(self, numeric: set[str]) -> None:
        for index, rule in enumerate(self.rules):
            named: list[tuple[Path_, str]] = [(("result",), rule.result)]
            named += [(("factors", i), name) for i, name in enumerate(rule.factors)]
            if rule.slack is not None:
                named.append((("slack",), rule.slack))
            for key, name in named:
                where: Path_ = ("rules", index, *key)
                if name not in numeric:
                    raise _problem(f"{name!r} is not a numeric feature of this file", where)
            if len({rule.result, *rule.factors}) < 3:
                raise _problem(
                    "result and the two factors must be three different features", ("rules", index)
                )

    def to_schema(self) -> FeatureSchema:
        features = [entry.to_feature() for entry in self.features]
        return FeatureSchema(
            numeric=tuple(f for f in features if isinstance(f, NumericFeature)),
            categorical=tuple(f for f in features if isinstance(f, CategoricalFeature)),
            id_source=self.id,
            label_source=self.label.column,
            label_values=LabelValues(
                churned=tuple(self.label.churned), stayed=tuple(self.label.stayed)
            ),
            rules=tuple(self.rules),
        )


# ---- reading, with line numbers in the errors -----------------------------------------------
def _lines(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """The 1-based line of every key and list item below ``node``; refuses repeated keys
    (PyYAML would keep the last one silently)."""
    lines: dict[Path_, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            if child in lines:
                raise BadInputError(
                    f"line {key_node.start_mark.line + 1}: {_where(child)} appears twice; keep one"
                )
            lines.update(_lines(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, (*path, index)))
    return lines


def _where(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the file"


def _message(error: Any) -> tuple[Path_, str]:
    """The path and wording of one pydantic error."""
    context = error.get("ctx") or {}
    loc = tuple(error["loc"])
    if error["type"] == "project_file":
        return (*loc, *context["at"]), str(context["message"])
    if error["type"] == "extra_forbidden":
        return loc, f"unknown key {loc[-1]!r}; check its spelling (README: the project file)"
    if error["type"] == "missing":
        return loc, "required, but missing"
    if error["type"] == "literal_error":
        return loc, f"unknown {loc[-1]} {error.get('input')!r}; expected {context['expected']}"
    got = error.get("input")
    shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
    return loc, f"{error['msg']}{shown}"


def parse_project(text: str, name: str) -> FeatureSchema:
    """The schema a project file declares; ``BadInputError`` naming the line otherwise."""
    return _parse(text, name).to_schema()


def _parse(text: str, name: str) -> ProjectFile:
    """The whole project file, validated; ``BadInputError`` naming the line otherwise."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines = _lines(node) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadInputError(f"{name}: {where}not valid YAML ({problem})") from exc
    except BadInputError as exc:
        raise BadInputError(f"{name}: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise BadInputError(
            f"{name}: expected keys such as label: and features: (see `churnops init --help`)"
        )
    try:
        return ProjectFile.model_validate(data)
    except ValidationError as exc:
        path, message = _message(exc.errors()[0])
        line = next((lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in lines), 1)
        raise BadInputError(f"{name}: line {line}: {_where(path)}: {message}") from exc


def project_path(explicit: Path | None, home: Path) -> Path:
    """The project file in use: ``--schema`` / ``CHURNOPS_SCHEMA``, else ``churnops.yaml`` in the
    home (which may not exist: then the built-in schema applies)."""
    return explicit if explicit is not None else home / PROJECT_FILE


def load_schema(explicit: Path | None, home: Path, tolerance: float = 0.25) -> FeatureSchema:
    """The project's schema; without a file, the built-in one (``tolerance`` is its billing
    rule's, from ``CHURNOPS_TOTAL_CHARGES_TOLERANCE``)."""
    project = _load(explicit, home)
    return default_schema(tolerance) if project is None else project.to_schema()


def load_costs(explicit: Path | None, home: Path) -> Costs | None:
    """The costs the project file declares, if any."""
    project = _load(explicit, home)
    return None if project is None else project.costs


def _load(explicit: Path | None, home: Path) -> ProjectFile | None:
    """The project file in use, validated; None when there is none (the built-in schema)."""
    path = project_path(explicit, home)
    if explicit is None and not path.exists():
        return None
    if not path.is_file():
        raise BadInputError(
            f"project file {path} does not exist; check --schema / CHURNOPS_SCHEMA, or write one "
            "with `churnops init --from FILE`"
        )
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BadInputError(f"{path} is larger than 1 MiB; is it really a project file?")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path} is not UTF-8 text; save it as UTF-8") from exc
    return _parse(text, str(path))
