"""Settings: defaults < CHURNOPS_* environment < explicit values, every path under one home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from churnops.errors import BadInputError
from churnops.settings import Settings, env_name, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: start every test from none of ours."""
    for name in [n for n in os.environ if n.startswith("CHURNOPS_")]:
        monkeypatch.delenv(name)


def test_documented_defaults() -> None:
    """The defaults are the documented ones."""
    settings = load_settings()
    assert settings.home == Path(".")
    assert (settings.rows, settings.seed) == (10_000, 42)
    assert settings.max_reject_rate == 0.05
    assert (settings.min_auc, settings.max_auc_drop) == (0.70, 0.02)
    assert (settings.n_estimators, settings.max_depth, settings.min_samples_leaf) == (200, 8, 20)
    assert settings.decision_threshold == 0.5
    assert settings.reference_sample_rows == 10_000


def test_every_path_derives_from_home(tmp_path: Path) -> None:
    """Data, models, registry, logs and reports all live under the one home folder."""
    settings = load_settings(home=tmp_path)
    assert settings.raw_csv == tmp_path / "data" / "raw.csv"
    assert settings.raw_meta == tmp_path / "data" / "raw.meta.json"
    assert settings.processed_csv == tmp_path / "data" / "processed.csv"
    assert settings.rejected_csv == tmp_path / "data" / "rejected.csv"
    assert settings.quality_report == tmp_path / "data" / "quality_report.json"
    assert settings.models_dir == tmp_path / "models"
    assert settings.registry_dir == tmp_path / "registry"
    assert settings.inference_db == tmp_path / "logs" / "inference.sqlite"
    assert settings.reports_dir == tmp_path / "reports"


def test_loading_settings_creates_nothing(tmp_path: Path) -> None:
    """Reading settings has no side effect on disk."""
    load_settings(home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """CHURNOPS_* variables replace the defaults, typed."""
    monkeypatch.setenv("CHURNOPS_MIN_AUC", "0.99")
    monkeypatch.setenv("CHURNOPS_N_ESTIMATORS", "7")
    monkeypatch.setenv("CHURNOPS_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.min_auc == 0.99
    assert settings.n_estimators == 7
    assert settings.home == tmp_path


def test_env_name_is_the_variable_that_sets_a_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The name env_name gives for a setting is the variable the settings read, including a
    setting whose variable has a name of its own (CHURNOPS_SCHEMA for schema_file)."""
    assert (env_name("rows"), env_name("schema_file")) == ("CHURNOPS_ROWS", "CHURNOPS_SCHEMA")
    monkeypatch.setenv(env_name("drift_min_rows"), "7")
    monkeypatch.setenv(env_name("schema_file"), str(tmp_path / "p.yaml"))
    settings = load_settings()
    assert (settings.drift_min_rows, settings.schema_file) == (7, tmp_path / "p.yaml")


def test_explicit_values_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit (command-line) values beat the environment; None means 'not given'."""
    monkeypatch.setenv("CHURNOPS_SEED", "5")
    monkeypatch.setenv("CHURNOPS_ROWS", "123")
    settings = load_settings(seed=9, rows=None)
    assert settings.seed == 9
    assert settings.rows == 123


@pytest.mark.parametrize(
    ("overrides", "env", "named"),
    [
        ({"max_reject_rate": 5}, {}, "--max-reject-rate"),
        ({}, {"CHURNOPS_MIN_AUC": "abc"}, "CHURNOPS_MIN_AUC"),
        ({"rows": 0}, {}, "rows"),
        ({"test_size": 1.0}, {}, "test_size"),
        ({}, {"CHURNOPS_PORT": "70000"}, "CHURNOPS_PORT"),
    ],
)
def test_invalid_values_are_bad_input(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, object], env: dict[str, str], named: str
) -> None:
    """An invalid value is refused with a one-line message naming the setting, the flag and the
    variable it can come from."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(BadInputError, match="invalid setting") as caught:
        load_settings(**overrides)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_admin_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin token is a secret: it does not appear in the settings' repr."""
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN", "s3cret-value-0123")
    settings = load_settings()
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "s3cret-value-0123"
    assert "s3cret-value" not in repr(settings)


@pytest.mark.parametrize("token", ["   ", " \t\n ", "short-token", " 15-characters! "])
def test_weak_admin_tokens_are_refused_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    """A whitespace-only or short (< 16 characters) token never enables the admin endpoints:
    loading refuses it in one line that says how to make one, and does not print it."""
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN", token)
    with pytest.raises(BadInputError, match="at least 16 characters") as caught:
        load_settings()
    message = str(caught.value)
    assert "CHURNOPS_ADMIN_TOKEN" in message and "secrets.token_urlsafe" in message
    assert "\n" not in message and (not token.strip() or token.strip() not in message)


def test_admin_token_empty_means_disabled_and_spaces_around_are_trimmed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An empty variable leaves admin disabled; spaces around a long token are not part of it."""
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN", "")
    assert load_settings().admin_token is None
    monkeypatch.setenv("CHURNOPS_ADMIN_TOKEN", "  0123456789abcdef\n")
    token = load_settings().admin_token
    assert token is not None and token.get_secret_value() == "0123456789abcdef"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("CHURNOPS_POLL_INTERVAL", "inf", "finite number"),
        ("CHURNOPS_POLL_INTERVAL", "nan", "finite number"),
        ("CHURNOPS_POLL_INTERVAL", "1e9", "less than or equal to 3600"),
        ("CHURNOPS_LOG_FLUSH_INTERVAL", "inf", "finite number"),
        ("CHURNOPS_LOG_FLUSH_INTERVAL", "1e9", "less than or equal to 60"),
        ("CHURNOPS_HEADER_TIMEOUT", "0", "greater than 0"),
        ("CHURNOPS_LOG_LEVEL", "bogus", "'warning'"),
    ],
)
def test_serving_settings_are_finite_and_known(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    """Intervals must be finite and bounded and the log level one uvicorn knows: a bad value
    is one line naming the variable, not an OverflowError or KeyError when serving starts."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadInputError, match=says) as caught:
        load_settings()
    assert variable in str(caught.value) and "\n" not in str(caught.value)


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    """--log-level WARNING works as warning."""
    monkeypatch.setenv("CHURNOPS_LOG_LEVEL", "INFO")
    assert load_settings().log_level == "info"


def test_unknown_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CHURNOPS_ variable that names no setting does not break loading."""
    monkeypatch.setenv("CHURNOPS_NOT_A_SETTING", "1")
    assert isinstance(load_settings(), Settings)
