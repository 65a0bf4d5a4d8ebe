"""Realistic churn tables in three shapes besides the built-in one, for the project-file tests.

Each builder is seeded and returns the table as a CSV export would hold it (text cells), and
``write_csv`` saves it. The churn ground truth of each is a logistic model stated in its
docstring, so a model trained on the table has something real to find.

- ``telecom``: a ~20-column telecom export (CamelCase headers, Yes/No flags, a 0/1 senior flag,
  multi-valued categoricals, TotalCharges as text with blanks, a Yes/No ``Churn`` label);
- ``bank``: a bank / credit-card table (a row number, numeric customer ids, surnames, ages,
  balances, product counts, a 0/1 ``Exited`` label; no billing rule);
- ``minimal``: one numeric and one categorical feature, a true/false ``churned`` label, no id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from churnops.schema import PAYMENT_METHODS

YES_NO = np.array(["No", "Yes"], dtype=object)
SERVICES = (
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)
# the five columns that match the built-in schema's features
TELECOM_FIVE = ("tenure", "MonthlyCharges", "TotalCharges", "Contract", "PaymentMethod")


def _calibrated(rng: np.random.Generator, logit: np.ndarray, rate: float) -> np.ndarray:
    """Churned (bool) draws whose overall rate is ``rate``."""
    intercept = brentq(lambda b: expit(logit + b).mean() - rate, -30, 30)
    return rng.random(len(logit)) < expit(logit + intercept)


def _flag(rng: np.random.Generator, p: float | np.ndarray, rows: int) -> np.ndarray:
    return rng.random(rows) < p


def telecom(rows: int = 7_000, seed: int = 1) -> pd.DataFrame:
    """Ground truth: logit = 1.2·[Month-to-month] − 0.9·[Two year] + 0.5·[Electronic check]
    − 0.035·tenure + 0.8·[Fiber optic] + 0.7·[no OnlineSecurity] + 0.6·[no TechSupport]
    + 0.5·[SeniorCitizen] + 0.4·[PaperlessBilling] − 0.4·[Dependents] − 0.3·[Partner]
    + 0.3·[StreamingMovies], calibrated to 26 % churn. MonthlyCharges follow the services;
    TotalCharges ≈ tenure × MonthlyCharges and are blank (" ") for customers in their first
    month, as in real billing exports."""
    rng = np.random.default_rng(seed)
    senior = _flag(rng, 0.16, rows)
    partner = _flag(rng, 0.48, rows)
    dependents = _flag(rng, np.where(partner, 0.5, 0.1), rows)
    tenure = np.rint(72 * rng.beta(0.7, 0.6, rows) * np.where(partner, 1.0, 0.8)).astype(int)
    phone = _flag(rng, 0.9, rows)
    multiple = np.where(phone, YES_NO[_flag(rng, 0.45, rows).astype(int)], "No phone service")
    internet = rng.choice(["DSL", "Fiber optic", "No"], size=rows, p=[0.34, 0.44, 0.22])
    has_internet = internet != "No"
    services = {
        name: np.where(has_internet, YES_NO[_flag(rng, p, rows).astype(int)], "No internet service")
        for name, p in zip(SERVICES, (0.35, 0.4, 0.4, 0.35, 0.5, 0.5), strict=True)
    }
    long_share = tenure / 72
    contract_p = np.column_stack([1.4 - 2.2 * long_share, np.zeros(rows), -0.6 + 2.0 * long_share])
    contract_p = np.exp(contract_p) / np.exp(contract_p).sum(axis=1, keepdims=True)
    contract_idx = (rng.random(rows)[:, None] > np.cumsum(contract_p, axis=1)).sum(axis=1)
    contract = np.array(["Month-to-month", "One year", "Two year"], dtype=object)[contract_idx]
    paperless = _flag(rng, 0.59, rows)
    payment = rng.choice(list(PAYMENT_METHODS), size=rows, p=[0.34, 0.23, 0.22, 0.21])
    monthly = (
        (
            20.0 * phone
            + 5.0 * (multiple == "Yes")
            + np.select([internet == "DSL", internet == "Fiber optic"], [25.0, 50.0], 0.0)
            + sum(5.0 * (services[n] == "Yes") for n in SERVICES[:4])
            + sum(10.0 * (services[n] == "Yes") for n in SERVICES[4:])
            + rng.normal(0, 2.0, rows)
        )
        .clip(min=18.25)
        .round(2)
    )
    total = np.round(tenure * monthly * (1 + rng.normal(0, 0.02, rows)), 2)
    logit = (
        1.2 * (contract == "Month-to-month")
        - 0.9 * (contract == "Two year")
        + 0.5 * (payment == "Electronic check")
        - 0.035 * tenure
        + 0.8 * (internet == "Fiber optic")
        + 0.7 * (services["OnlineSecurity"] == "No")
        + 0.6 * (services["TechSupport"] == "No")
        + 0.5 * senior
        + 0.4 * paperless
        - 0.4 * dependents
        - 0.3 * partner
        + 0.3 * (services["StreamingMovies"] == "Yes")
    )
    churn = _calibrated(rng, logit, 0.26)
    letters = rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), size=(rows, 5))
    ids = [f"{i:04d}-{''.join(chars)}" for i, chars in enumerate(letters, start=1)]
    return pd.DataFrame(
        {
            "customerID": ids,
            "gender": rng.choice(["Female", "Male"], size=rows),
            "SeniorCitizen": senior.astype(int).astype(str),
            "Partner": YES_NO[partner.astype(int)],
            "Dependents": YES_NO[dependents.astype(int)],
            "tenure": tenure.astype(str),
            "PhoneService": YES_NO[phone.astype(int)],
            "MultipleLines": multiple,
            "InternetService": internet,
            **services,
            "Contract": contract,
            "PaperlessBilling": YES_NO[paperless.astype(int)],
            "PaymentMethod": payment,
            "MonthlyCharges": [f"{v:.2f}" for v in monthly],
            "TotalCharges": np.where(tenure == 0, " ", [f"{v:.2f}" for v in total]),
            "Churn": YES_NO[churn.astype(int)],
        }
    )


def bank(rows: int = 6_000, seed: int = 2) -> pd.DataFrame:
    """Ground truth: logit = 0.07·(Age − 40) + 0.8·[Germany] + 0.5·[Female] − 0.9·[active]
    + 2.5·[3 or 4 products] − 0.6·[2 products] + 0.25·[Balance > 0], calibrated to 20 %."""
    rng = np.random.default_rng(seed)
    geography = rng.choice(["France", "Germany", "Spain"], size=rows, p=[0.5, 0.25, 0.25])
    gender = rng.choice(["Female", "Male"], size=rows, p=[0.45, 0.55])
    age = np.clip(np.rint(rng.gamma(9, 4.3, rows)), 18, 92).astype(int)
    products = rng.choice([1, 2, 3, 4], size=rows, p=[0.5, 0.45, 0.04, 0.01])
    balance = np.where(_flag(rng, 0.36, rows), 0.0, rng.normal(119_000, 30_000, rows).clip(3_000))
    active = _flag(rng, 0.52, rows)
    logit = (
        0.07 * (age - 40)
        + 0.8 * (geography == "Germany")
        + 0.5 * (gender == "Female")
        - 0.9 * active
        + 2.5 * (products >= 3)
        - 0.6 * (products == 2)
        + 0.25 * (balance > 0)
    )
    exited = _calibrated(rng, logit, 0.2)
    surnames = [f"Name{k}" for k in rng.integers(0, 2_900, rows)]
    return pd.DataFrame(
        {
            "RowNumber": np.arange(1, rows + 1).astype(str),
            "CustomerId": (15_600_000 + rng.permutation(rows) * 7).astype(str),
            "Surname": surnames,
            "CreditScore": np.clip(np.rint(rng.normal(650, 97, rows)), 350, 850).astype(int),
            "Geography": geography,
            "Gender": gender,
            "Age": age,
            "Tenure": rng.integers(0, 11, rows),
            "Balance": np.round(balance, 2),
            "NumOfProducts": products,
            "HasCrCard": _flag(rng, 0.7, rows).astype(int),
            "IsActiveMember": active.astype(int),
            "EstimatedSalary": np.round(rng.uniform(11.58, 199_992.48, rows), 2),
            "Exited": exited.astype(int),
        }
    ).astype(str)


def minimal(rows: int = 1_500, seed: int = 3) -> pd.DataFrame:
    """Ground truth: logit = −0.08·usage_hours + 1.2·[plan basic] − 0.8·[plan enterprise],
    calibrated to 30 %."""
    rng = np.random.default_rng(seed)
    usage = np.round(rng.gamma(2.0, 10.0, rows), 1)
    plan = rng.choice(["basic", "pro", "enterprise"], size=rows, p=[0.5, 0.35, 0.15])
    logit = -0.08 * usage + 1.2 * (plan == "basic") - 0.8 * (plan == "enterprise")
    churned = _calibrated(rng, logit, 0.3)
    return pd.DataFrame(
        {
            "usage_hours": usage.astype(str),
            "plan": plan,
            "churned": np.where(churned, "true", "false"),
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


BUILDERS = {"telecom": telecom, "bank": bank, "minimal": minimal}
