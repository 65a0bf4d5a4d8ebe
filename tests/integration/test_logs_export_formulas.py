"""`churnops logs export --format csv` is opened in spreadsheets: no logged value runs as a
formula there (issue 7, defect 12)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from api_support import SEED_BODY, api_settings
from cli_support import RunCli
from fastapi.testclient import TestClient

from churnops.serving.app import create_app


def test_exported_csv_neutralises_formula_cells(
    trained_home: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    """A request id and a customer id the API accepts but a spreadsheet would evaluate
    ('=1+2', '+1-2') are exported behind an apostrophe; the Parquet export keeps them exact."""
    with TestClient(create_app(api_settings(trained_home))) as client:
        answer = client.post(
            "/predict",
            json={**SEED_BODY, "customer_id": "+1-2"},
            headers={"X-Request-ID": "=1+2"},
        )
        assert answer.status_code == 200, answer.text
    csv_file, parquet_file = tmp_path / "log.csv", tmp_path / "log.parquet"
    for output, fmt in ((csv_file, "csv"), (parquet_file, "parquet")):
        run = run_cli("logs", "export", "--home", trained_home, "--format", fmt, "--output", output)
        assert run.code == 0, run.err
    exported = pd.read_csv(csv_file, dtype=str)
    assert exported["request_id"].tolist() == ["'=1+2"]
    assert exported["customer_id"].tolist() == ["'+1-2"]
    assert exported["contract_type"].tolist() == ["Month-to-month"]
    exact = pd.read_parquet(parquet_file)
    assert (exact["request_id"].tolist(), exact["customer_id"].tolist()) == (["=1+2"], ["+1-2"])
