"""Register trained model versions, with the promotion gate (``promotion`` moves the pointer)."""

from __future__ import annotations

import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from churnops.atomic import atomic_write, atomic_write_bytes, atomic_write_json, sha256_file
from churnops.model.export import check_parity, export_onnx
from churnops.model.onnx_model import OnnxModel
from churnops.model.train import Trained
from churnops.registry.entries import (
    ModelVersion,
    TrainingData,
    utc_now,
)
from churnops.registry.orphans import remove_orphans
from churnops.registry.stats import train_stats
from churnops.registry.store import Registry, artifact_stem, file_registry_note, open_registry
from churnops.schema import DEFAULT_SCHEMA, FeatureSchema
from churnops.settings import Settings


@dataclass
class Registered:
    entry: ModelVersion
    promoted: bool
    reason: str
    previous: ModelVersion | None
    removed: list[str] = field(default_factory=list)  # killed trainings' leftovers, home-relative
    note: str | None = None  # e.g. a file registry in the home, left alone by the database's


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _home_relative(path: Path, home: Path) -> str:
    """The data path as seen from the project home when inside it, else absolute."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(home.resolve()))
    except ValueError:
        return str(resolved)


def _gate(auc: float | None, current: ModelVersion | None, settings: Settings) -> str | None:
    """Why this AUC may not become current, or None when it may."""
    if auc is None:
        return "the hold-out has a single class, so ROC AUC is undefined"
    if auc < settings.min_auc:
        return f"ROC AUC {auc:.4f} is below the minimum {settings.min_auc:.2f}"
    current_auc = current.metrics.get("roc_auc") if current else None
    if current is not None and current_auc is not None:
        floor = current_auc - settings.max_auc_drop
        if auc < floor:
            return (
                f"ROC AUC {auc:.4f} falls behind current {current.name} "
                f"({current_auc:.4f}) by more than {settings.max_auc_drop:.3f}"
            )
    return None


def register(
    settings: Settings,
    trained: Trained,
    data_path: Path,
    force: bool = False,
    extra_metrics: dict[str, Any] | None = None,
    schema: FeatureSchema = DEFAULT_SCHEMA,
) -> Registered:
    """Store a trained pipeline as a new version; make it current only if it passes the gate."""
    onnx_bytes = export_onnx(trained.pipeline, schema)
    parity = check_parity(trained.pipeline, OnnxModel(onnx_bytes, schema), trained.holdout_frame)
    metrics = {**trained.metrics, "onnx_parity_max_abs_diff": parity, **(extra_metrics or {})}
    if trained.cv:
        metrics["cv"] = trained.cv
    registry = open_registry(settings)
    registry.models_dir.mkdir(parents=True, exist_ok=True)
    with registry.transaction(create=True) as state:
        state.refuse_during_experiment("registering a new version")
        removed = remove_orphans(registry, state, time.time())
        version = registry.reserve_version(state)
        stem = artifact_stem(version, datetime.now(UTC))
        joblib_path = registry.models_dir / f"{stem}.joblib"
        onnx_path = registry.models_dir / f"{stem}.onnx"
        atomic_write(joblib_path, lambda tmp: joblib.dump(trained.pipeline, tmp))
        atomic_write_bytes(onnx_path, onnx_bytes)
        _write_version_files(registry, settings, version, trained, schema)
        previous = state.current
        failure = _gate(metrics["roc_auc"], previous, settings)
        promoted = failure is None or force
        reason = (
            f"passed the gate (ROC AUC {metrics['roc_auc']:.4f} ≥ {settings.min_auc:.2f})"
            if failure is None
            else (f"forced past the gate: {failure}" if force else failure)
        )
        entry = ModelVersion(
            version=version,
            file=joblib_path.name,
            sha256=sha256_file(joblib_path),
            onnx_file=onnx_path.name,
            onnx_sha256=sha256_file(onnx_path),
            created_at=utc_now(),
            status="current" if promoted else "rejected",
            metrics=metrics,
            threshold=trained.threshold,
            hyperparameters=trained.hyperparameters,
            feature_schema=schema.model_dump(mode="json"),
            training_data=TrainingData(
                path=_home_relative(data_path, settings.home),
                sha256=sha256_file(data_path),
                rows=len(trained.train_frame) + len(trained.holdout_frame),
            ),
            libraries={
                "python": platform.python_version(),
                "scikit-learn": sklearn.__version__,
                "pandas": pd.__version__,
                "numpy": np.__version__,
            },
            git_commit=_git_commit(settings.home) or _git_commit(Path(__file__).parent),
            seed=settings.seed,
            gate={
                "min_auc": settings.min_auc,
                "max_auc_drop": settings.max_auc_drop,
                "passed": failure is None,
                "forced": force and failure is not None,
                "failure": failure,
            },
        )
        state.versions.append(entry)
        if promoted:
            state.current_version = version
        registry.commit(
            state,
            "register" if promoted else "reject",
            previous.version if previous else None,
            version,
            reason if promoted else f"v{version} rejected: {reason}",
        )
    home_relative = [str(path.relative_to(settings.home)) for path in removed]
    return Registered(
        entry, promoted, reason, previous, home_relative, file_registry_note(settings)
    )


TRAINED_ON = "trained_on.parquet"
"""The ids of the customers a version was trained on, so ``evaluate`` can compare versions on
rows none of them saw (absent when the training data had no id column)."""


def _write_version_files(
    registry: Registry, settings: Settings, version: int, trained: Trained, schema: FeatureSchema
) -> None:
    folder = registry.version_dir(version)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        folder / "train_stats.json",
        train_stats(version, trained.train_frame, trained.holdout_proba, schema),
    )
    columns = [*schema.feature_names, schema.label]
    sample_size = min(settings.reference_sample_rows, len(trained.train_frame))
    reference = trained.train_frame[columns].sample(n=sample_size, random_state=settings.seed)
    atomic_write(folder / "reference.parquet", lambda tmp: reference.to_parquet(tmp, index=False))
    with_id = [schema.id_column] if schema.id_column in trained.holdout_frame.columns else []
    holdout = trained.holdout_frame[[*with_id, *columns]].assign(prediction=trained.holdout_proba)
    atomic_write(folder / "holdout.parquet", lambda tmp: holdout.to_parquet(tmp, index=False))
    if with_id:
        ids = trained.train_frame[with_id]
        atomic_write(folder / TRAINED_ON, lambda tmp: ids.to_parquet(tmp, index=False))
