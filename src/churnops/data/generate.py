"""A seeded synthetic customer base whose churn follows a known (oracle) probability.

Ground truth — churn ~ Bernoulli(sigmoid(logit)) with

    logit = b0 + 1.3·[Month-to-month] − 0.9·[Two year] + 0.7·[Electronic check]
               − 0.045·tenure + 0.018·(monthly_charges − 70)

where ``b0`` is solved numerically so the overall churn rate is 25 %. Features:
tenure ~ round(72·Beta(0.6, 0.6)); contract type depends on tenure (long-tenure customers hold
longer contracts); payment method is drawn with fixed shares; monthly charges ~ 18 + 102·Beta(1.3,
1.1); total charges = tenure × monthly × (1 + N(0, 0.03)).

Dirt, each at a documented share of rows, so ``prepare`` has real work (see ``DIRT``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from churnops.atomic import atomic_write
from churnops.errors import BadInputError
from churnops.schema import CONTRACT_TYPES, DEFAULT_SCHEMA, PAYMENT_METHODS, FeatureSchema
from churnops.settings import MAX_SEED

TARGET_CHURN_RATE = 0.25
BYTES_PER_ROW = 600
"""Memory ``generate`` and ``write_csv`` take per row at their peak: the peak-RSS slope that
``benchmarks/bench_generate_memory.py`` measures is 420–540 bytes, rounded up."""
PAYMENT_SHARES = (0.34, 0.23, 0.22, 0.21)

# share of rows touched by each kind of dirt
DIRT = {
    "missing_numeric": 0.010,  # an empty tenure / monthly_charges / total_charges cell
    "blank_total": 0.005,  # total_charges is " " (as in real billing exports)
    "out_of_range": 0.004,  # negative or impossible tenure / monthly charges
    "duplicate_id": 0.005,  # a row repeated with the same customer_id
    "category_spelling": 0.030,  # "month-to-month", " ONE YEAR ", "Bank transfer", …
    "inconsistent_total": 0.003,  # total_charges far from tenure × monthly_charges
    "missing_label": 0.002,  # churn left empty
}

SPELLINGS = {
    "Month-to-month": ("month-to-month", "MONTH-TO-MONTH", "Month to month", " Month-to-month "),
    "One year": ("one year", "ONE YEAR", "One Year ", "1 year"),
    "Two year": ("two year", "TWO YEAR", " Two Year", "2 year"),
    "Electronic check": ("electronic check", "ELECTRONIC CHECK", "Electronic Check "),
    "Mailed check": ("mailed check", "MAILED CHECK", " Mailed Check"),
    "Bank transfer (automatic)": ("bank transfer", "Bank Transfer (Automatic)", "BANK TRANSFER"),
    "Credit card (automatic)": ("credit card", "Credit Card (automatic)", "CREDIT CARD "),
}


@dataclass(frozen=True)
class Generated:
    frame: pd.DataFrame  # clean features and label, before dirt
    table: pa.Table  # what is written to CSV: dirty text, as a real export looks
    churn_probability: np.ndarray
    meta: dict[str, object]


def _features(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    tenure = np.rint(72 * rng.beta(0.6, 0.6, rows)).astype(np.int64)
    long_share = tenure / 72
    contract_logits = np.column_stack(
        [np.full(rows, 1.2) - 2.0 * long_share, np.zeros(rows), -0.8 + 1.8 * long_share]
    )
    contract_p = np.exp(contract_logits)
    contract_p /= contract_p.sum(axis=1, keepdims=True)
    contract_idx = (rng.random(rows)[:, None] > np.cumsum(contract_p, axis=1)).sum(axis=1)
    payment_idx = rng.choice(len(PAYMENT_METHODS), size=rows, p=PAYMENT_SHARES)
    monthly = np.round(18 + 102 * rng.beta(1.3, 1.1, rows), 2)
    total = np.round(tenure * monthly * (1 + rng.normal(0, 0.03, rows)), 2).clip(min=0)
    return pd.DataFrame(
        {
            "customer_id": "C" + pd.Series(np.arange(1, rows + 1)).astype(str).str.zfill(7),
            "tenure": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "contract_type": np.asarray(CONTRACT_TYPES, dtype=object)[contract_idx],
            "payment_method": np.asarray(PAYMENT_METHODS, dtype=object)[payment_idx],
        }
    )


def churn_logit_without_intercept(frame: pd.DataFrame) -> np.ndarray:
    """The ground-truth logit, less its calibrated intercept (see module docstring)."""
    contract = frame["contract_type"].to_numpy()
    logit: np.ndarray = (
        1.3 * (contract == "Month-to-month")
        - 0.9 * (contract == "Two year")
        + 0.7 * (frame["payment_method"].to_numpy() == "Electronic check")
        - 0.045 * frame["tenure"].to_numpy(dtype=float)
        + 0.018 * (frame["monthly_charges"].to_numpy(dtype=float) - 70)
    )
    return logit


def true_churn_probability(frame: pd.DataFrame, intercept: float) -> np.ndarray:
    """Each customer's true churn probability: the ground truth with a generated base's
    intercept (``meta["intercept"]``), also for customers changed afterwards (a shift)."""
    probability: np.ndarray = expit(churn_logit_without_intercept(frame) + intercept)
    return probability


def _intercept(logit: np.ndarray) -> float:
    return float(brentq(lambda b: expit(logit + b).mean() - TARGET_CHURN_RATE, -20, 20))


def _as_text(values: np.ndarray, blank: np.ndarray | None = None) -> pa.Array:
    """Numbers as CSV text (NaN → empty cell), with optional whitespace-only cells."""
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    if blank is not None:
        mask = np.zeros(len(values), dtype=bool)
        mask[blank] = True
        text = pc.if_else(pa.array(mask), pa.scalar(" "), text)
    return text


def _dirty(rng: np.random.Generator, frame: pd.DataFrame) -> pa.Table:
    """Inject the documented dirt; numeric columns become text, as in a real export."""
    rows = len(frame)

    def pick(share: float) -> np.ndarray:
        return rng.choice(rows, size=round(rows * share), replace=False)

    tenure = frame["tenure"].to_numpy(dtype=float, copy=True)
    monthly = frame["monthly_charges"].to_numpy(dtype=float, copy=True)
    total = frame["total_charges"].to_numpy(dtype=float, copy=True)
    missing = pick(DIRT["missing_numeric"])
    for position, values in enumerate((tenure, monthly, total)):
        values[missing[missing % 3 == position]] = np.nan
    blank = pick(DIRT["blank_total"])
    bad = pick(DIRT["out_of_range"])
    half = len(bad) // 2
    tenure[bad[:half]] = -1 - rng.integers(0, 5, half)
    monthly[bad[half:]] = -rng.uniform(1, 50, len(bad) - half).round(2)
    off = pick(DIRT["inconsistent_total"])
    inflated = (frame["tenure"].to_numpy()[off] + 1) * frame["monthly_charges"].to_numpy()[off]
    total[off] = np.round(inflated * rng.uniform(2, 4, len(off)), 2)
    categories: dict[str, pa.Array] = {}
    for column in ("contract_type", "payment_method"):
        values = frame[column].to_numpy(dtype=object).copy()
        chosen = pick(DIRT["category_spelling"] / 2)
        values[chosen] = [
            SPELLINGS[value][k] for value, k in zip(values[chosen], chosen % 3, strict=True)
        ]
        categories[column] = pa.array(values, type=pa.string())
    label_mask = np.zeros(rows, dtype=bool)
    label_mask[pick(DIRT["missing_label"])] = True
    table = pa.table(
        {
            "customer_id": pa.array(frame["customer_id"].to_numpy(dtype=object), pa.string()),
            "tenure": _as_text(tenure),
            "monthly_charges": _as_text(monthly),
            "total_charges": _as_text(total, blank),
            **categories,
            "churn": pa.array(frame["churn"].to_numpy(), mask=label_mask),
        }
    )
    duplicates = table.take(pa.array(np.sort(pick(DIRT["duplicate_id"]))))
    return pa.concat_tables([table, duplicates])


def available_memory() -> int | None:
    """Bytes this process can still get: the kernel's MemAvailable, capped by the cgroup v2
    limit of a container; None where it cannot be read (not Linux)."""
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+([0-9]+) kB$", meminfo, re.MULTILINE)
    if match is None:
        return None
    available = int(match.group(1)) * 1024
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text(encoding="ascii").strip()
        used = (cgroup / "memory.current").read_text(encoding="ascii").strip()
    except OSError:
        return available
    if limit.isdecimal() and used.isdecimal():
        available = min(available, max(int(limit) - int(used), 0))
    return available


def check_memory(rows: int) -> None:
    """Refuse, before allocating anything, a row count this machine has no memory for."""
    needed = rows * BYTES_PER_ROW
    available = available_memory()
    if available is not None and needed > available:
        raise BadInputError(
            f"generating {rows:,} rows needs about {needed / 2**30:,.1f} GiB of memory and "
            f"{available / 2**30:,.1f} GiB is available; ask for at most "
            f"{available // BYTES_PER_ROW:,} rows"
        )


def generator_fits(schema: FeatureSchema) -> bool:
    """The generator writes the built-in columns, types and categories only."""

    def shape(s: FeatureSchema) -> tuple[object, ...]:
        kinds = [(f.name, f.kind) for f in s.numeric]
        categories = [(f.name, frozenset(f.categories)) for f in s.categorical]
        return s.sources(), kinds, categories

    return shape(schema) == shape(DEFAULT_SCHEMA)


def generate(rows: int, seed: int, dirt: bool = True) -> Generated:
    if not 0 <= seed <= MAX_SEED:
        raise BadInputError(f"the seed {seed} is not a whole number from 0 to {MAX_SEED}")
    check_memory(rows)
    rng = np.random.default_rng(seed)
    frame = _features(rng, rows)
    intercept = _intercept(churn_logit_without_intercept(frame))
    probability = true_churn_probability(frame, intercept)
    churn = (rng.random(rows) < probability).astype(np.int64)
    frame["churn"] = churn
    oracle_auc = float(roc_auc_score(churn, probability)) if 0 < churn.sum() < rows else None
    meta: dict[str, object] = {
        "generator": "churnops.data.generate",
        "seed": seed,
        "rows": rows,
        "churn_rate": float(churn.mean()),
        "oracle_roc_auc": oracle_auc,
        "intercept": intercept,
        "dirt": DIRT if dirt else {},
    }
    table = _dirty(rng, frame) if dirt else pa.Table.from_pandas(frame, preserve_index=False)
    meta["rows_written"] = table.num_rows
    return Generated(frame=frame, table=table, churn_probability=probability, meta=meta)


def write_csv(table: pa.Table, path: Path) -> None:
    options = pa_csv.WriteOptions(quoting_style="needed")
    atomic_write(path, lambda tmp: pa_csv.write_csv(table, tmp, write_options=options))
