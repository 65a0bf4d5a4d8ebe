"""Verify, promote and roll back model versions: what moves the current pointer.

Kept apart from ``lifecycle`` (registration), so the API and these commands need only a serving
install (``churnops[serve]``), not the training libraries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churnops.atomic import sha256_file
from churnops.errors import BadInputError, CheckFailedError
from churnops.model.onnx_model import OnnxModel
from churnops.registry.entries import HistoryEvent, ModelVersion, RegistryFile
from churnops.registry.store import Registry, open_registry
from churnops.schema import FeatureSchema
from churnops.settings import Settings

SMOKE_ROWS = 50


def smoke_frame(registry: Registry, entry: ModelVersion, schema: FeatureSchema) -> pd.DataFrame:
    sample = registry.version_dir(entry.version) / "reference.parquet"
    if sample.exists():
        return pd.read_parquet(sample).head(SMOKE_ROWS)
    row: dict[str, Any] = {n.name: (n.min + n.max) / 2 for n in schema.numeric}
    row.update({c.name: c.categories[0] for c in schema.categorical})
    return pd.DataFrame([row])


def _file_failure(registry: Registry, entry: ModelVersion) -> str | None:
    """Why the version's two artifacts cannot be trusted, or None."""
    for path, expected in (
        (registry.artifact_path(entry), entry.sha256),
        (registry.onnx_path(entry), entry.onnx_sha256),
    ):
        if not path.exists():
            return f"{entry.name} refused: {path} is missing"
        if sha256_file(path) != expected:
            return (
                f"{entry.name} refused: {path} does not match its registered SHA-256 "
                "(corrupted or altered)"
            )
    return None


def verify(registry: Registry, entry: ModelVersion) -> OnnxModel:
    """Refuse a version whose files are missing, altered, unloadable or that cannot predict.
    Files that fail their check are restored once from the store's own copy when it keeps
    one (the database's, for a local cache), then checked again."""
    failure = _file_failure(registry, entry)
    if failure is not None and registry.heal(entry.version):
        failure = _file_failure(registry, entry)
    if failure is not None:
        raise CheckFailedError(failure)
    schema = FeatureSchema.model_validate(entry.feature_schema)
    try:
        model = OnnxModel.load(registry.onnx_path(entry), schema)
        proba = model.predict_frame(smoke_frame(registry, entry, schema))
    except Exception as exc:  # onnxruntime raises its own exception types for any bad graph
        raise CheckFailedError(
            f"{entry.name} refused: the model does not load or predict ({exc})"
        ) from exc
    if not (np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))):
        raise CheckFailedError(f"{entry.name} refused: its smoke predictions are not probabilities")
    return model


def previous_current(events: list[HistoryEvent]) -> list[int]:
    """The stack of versions made current, with rolled-back ones popped: last is current."""
    stack: list[int] = []
    for event in events:
        target = event.to_version
        if target is None or event.action == "reject":
            continue
        if event.action == "rollback" and target in stack:
            del stack[stack.index(target) + 1 :]
        elif not stack or stack[-1] != target:
            stack.append(target)
    return stack


def rollback_target(registry: Registry, state: RegistryFile) -> int:
    stack = [v for v in previous_current(registry.history()) if v != state.current_version]
    if len(state.versions) == 1:
        raise CheckFailedError(
            f"{state.versions[0].name} is the only version; there is no other to roll back to"
        )
    if not stack:
        raise CheckFailedError(
            "there is no earlier current version to roll back to; pick one with --to vN"
        )
    return stack[-1]


def switch(
    settings: Settings, action: str, target: int | None, reason: str, force: bool = False
) -> tuple[ModelVersion | None, ModelVersion]:
    """Move the current pointer to ``target`` (rollback: the previous one) after verifying it."""
    registry = open_registry(settings)
    with registry.transaction() as state:
        if not state.versions:
            raise BadInputError("the registry is empty; run `churnops train` first")
        state.refuse_during_experiment("rollback" if action == "rollback" else "promotion")
        version = target if target is not None else rollback_target(registry, state)
        entry = registry.require(state, version)
        previous = make_current(registry, state, entry, action, reason, force)
    return previous, entry


def make_current(
    registry: Registry,
    state: RegistryFile,
    entry: ModelVersion,
    action: str,
    reason: str,
    force: bool = False,
) -> ModelVersion | None:
    """Verify ``entry`` and commit it as the current version (inside ``transaction``);
    returns the version it replaced."""
    if entry.version == state.current_version:
        raise CheckFailedError(f"{entry.name} is already the current version; nothing changed")
    if entry.status == "rejected" and not force:
        raise CheckFailedError(
            f"{entry.name} was rejected by the promotion gate ({entry.gate.get('failure')}); "
            f"use `churnops promote {entry.name} --force` to make it current anyway"
        )
    verify(registry, entry)
    previous = state.current
    state.current_version = entry.version
    if entry.status == "rejected":
        entry.status = "archived"
        entry.gate["forced"] = True
        reason = f"{reason} (forced past the promotion gate)"
    registry.commit(
        state,
        "rollback" if action == "rollback" else "promote",
        previous.version if previous else None,
        entry.version,
        reason,
    )
    return previous
