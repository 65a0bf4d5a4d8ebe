"""After a rollback, the rows each version served are judged against that version's statistics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_support import log_scored, run_cli, traffic

from churnops import workflow
from churnops.monitoring.shifts import apply_shift
from churnops.registry.promotion import switch
from churnops.registry.store import Registry
from churnops.settings import Settings

HOUR = 3_600.0


def train_v2_on_higher_prices(settings: Settings, tmp_path: Path) -> None:
    """v2 learns from customers whose bills are 10% higher: its reference differs from v1's."""
    processed = pd.read_csv(settings.processed_csv)
    pricier = apply_shift(processed, "price-increase", np.random.default_rng(0))
    path = tmp_path / "pricier.csv"
    pricier.to_csv(path, index=False)
    result = workflow.train_step(settings, force=True, data=path)
    assert result.registered.entry.version == 2 and result.registered.promoted


def test_rows_are_judged_against_the_version_that_served_them(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It compares v2's rows with v2's reference and, after the rollback, v1's rows with v1's:
    v1-like traffic served by v1 and pricier traffic served by v2 are both 'no drift', although
    either would drift against the other version's statistics."""
    train_v2_on_higher_prices(trained_settings, tmp_path)
    start = time.time() - 3 * HOUR
    log_scored(trained_settings, traffic(800, 21), 1, start)  # before v2
    log_scored(trained_settings, traffic(800, 22, "price-increase"), 2, start + HOUR)  # v2 serves
    switch(trained_settings, "rollback", None, "test: v2 misbehaves")
    assert Registry(trained_settings).read().current_version == 1
    log_scored(trained_settings, traffic(800, 23), 1, start + 2 * HOUR)  # v1 again

    home = str(trained_settings.home)
    result = run_cli(capsys, "drift", "--home", home, "--json")
    assert result.code == 0, result.out + result.err
    report = json.loads(result.out)
    groups = {g["model_version"]: g for g in report["groups"]}
    assert set(groups) == {1, 2}
    assert groups[1]["rows"] == 1_600 and groups[2]["rows"] == 800
    for version, group in groups.items():
        assert group["reference"]["version"] == version
        assert group["drift_detected"] is False, (version, group["features"])

    # the control: the same v2 rows judged against v1's statistics do drift on monthly_charges
    reference_csv = tmp_path / "v1_reference.csv"
    v1_sample = Registry(trained_settings).version_dir(1) / "reference.parquet"
    pd.read_parquet(v1_sample).to_csv(reference_csv, index=False)
    crossed = run_cli(
        capsys,
        "drift",
        "--home",
        home,
        "--version",
        "v2",
        "--reference",
        str(reference_csv),
        "--json",
    )
    assert crossed.code == 1
    assert json.loads(crossed.out)["features"]["monthly_charges"]["status"] == "drift"


def test_only_the_rolled_back_version_can_be_selected(
    trained_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It judges only the rows served by --version vN."""
    train_v2_on_higher_prices(trained_settings, tmp_path)
    log_scored(trained_settings, traffic(300, 24), 1, time.time() - HOUR)
    log_scored(trained_settings, traffic(300, 25, "price-increase"), 2, time.time() - HOUR / 2)
    result = run_cli(
        capsys, "drift", "--home", str(trained_settings.home), "--version", "1", "--json"
    )
    assert result.code in (0, 1), result.err
    [group] = json.loads(result.out)["groups"]
    assert group["model_version"] == 1 and group["rows"] == 300
