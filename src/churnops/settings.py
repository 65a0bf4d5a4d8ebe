"""One settings object for every path, seed, threshold and hyper-parameter.

Precedence: defaults < environment variables (``CHURNOPS_*``) < CLI flags (passed as overrides).
All paths derive from ``home`` so a whole project can live in any folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnops.database.url import DatabaseUrl, check_scheme
from churnops.errors import BadInputError

MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds are unsigned 32-bit integers
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
MIN_ADMIN_TOKEN = 16
SECRET_SETTINGS = frozenset({"admin_token", "feedback_token", "database_url"})


def _seconds(default: float, most: float, description: str) -> Any:
    """A finite, positive duration of at most ``most`` seconds."""
    return Field(default=default, gt=0, le=most, allow_inf_nan=False, description=description)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHURNOPS_", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path("."), description="Project folder holding data/, models/, …")
    schema_file: Path | None = Field(
        default=None,
        validation_alias="CHURNOPS_SCHEMA",  # the variable's documented name
        description="Project file declaring the data [default: churnops.yaml in home, if any]",
    )

    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://USER:PASSWORD@HOST:PORT/DATABASE: the inference log and the "
        "outcomes live there (shared by every replica); unset: files and SQLite under home",
    )

    # generate
    rows: int = Field(default=10_000, ge=1, description="Rows of synthetic customers")
    seed: int = Field(
        default=42, ge=0, le=MAX_SEED, description="Seed for data generation, split and model"
    )

    # prepare
    max_reject_rate: float = Field(default=0.05, ge=0, le=1, description="Quality gate")
    total_charges_tolerance: float = Field(
        default=0.25,
        gt=0,
        description="Built-in schema: allowed relative gap between total and tenure × monthly "
        "(a project file declares its own rules)",
    )

    # train
    test_size: float = Field(default=0.2, gt=0, lt=1)
    n_estimators: int = Field(default=200, ge=1)
    max_depth: int | None = Field(default=8, ge=1)
    min_samples_leaf: int = Field(default=20, ge=1)
    max_features: float = Field(default=0.5, gt=0, le=1)
    decision_threshold: float = Field(default=0.5, gt=0, lt=1)
    min_auc: float = Field(default=0.70, ge=0, le=1, description="Promotion gate: minimum AUC")
    max_auc_drop: float = Field(
        default=0.02, ge=0, le=1, description="Promotion gate: tolerated AUC loss vs current"
    )
    reference_sample_rows: int = Field(default=10_000, ge=0)

    # serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: LogLevel = "warning"
    poll_interval: float = _seconds(2.0, 3600, "Seconds between registry polls")
    batch_limit: int = Field(default=10_000, ge=1)
    api_extra_fields: Literal["ignore", "forbid"] = Field(
        default="ignore",
        description="Request fields the model does not take: ignored, or refused with a 422",
    )
    batch_errors: Literal["refuse", "skip"] = Field(
        default="refuse",
        description="A batch with bad rows: refused whole (422), or its good rows answered",
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    header_timeout: float = _seconds(10.0, 300, "Seconds a client has to send request headers")
    body_timeout: float = _seconds(30.0, 600, "Seconds a client has to send the body after them")
    metrics_dir: Path | None = Field(
        default=None,
        description="With several workers (serve --workers N): the folder their Prometheus "
        "metrics meet in, emptied at start; unset: a new temporary folder per run",
    )
    max_connections: int = Field(
        default=4096, ge=16, le=1_000_000, description="Open connections per worker process"
    )
    admin_token: SecretStr | None = Field(
        default=None, description=f"Enables /admin endpoints; at least {MIN_ADMIN_TOKEN} characters"
    )
    feedback_token: SecretStr | None = Field(
        default=None,
        description=f"Enables POST /feedback (outcomes); at least {MIN_ADMIN_TOKEN} characters",
    )
    log_queue_size: int = Field(default=100_000, ge=1)
    log_batch_size: int = Field(default=2_000, ge=1)
    log_flush_interval: float = _seconds(
        0.5, 60, "Seconds between inference-log commits: the most a hard kill can lose"
    )
    log_shutdown_timeout: float = _seconds(
        10.0, 600, "Most seconds a stop spends writing the buffered inference-log rows"
    )
    inference_log: bool = True

    # drift — a feature drifts only when significant (Holm-corrected) AND above an effect floor
    drift_alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Family-wise error rate after Holm correction"
    )
    drift_psi_bins: int = Field(default=10, ge=2, description="Reference-quantile bins for PSI")
    drift_psi_floor: float = Field(default=0.2, gt=0, description="PSI at which a feature drifts")
    drift_psi_warning: float = Field(default=0.1, gt=0, description="PSI for a warning")
    drift_wasserstein_floor: float = Field(
        default=0.1, gt=0, description="Wasserstein distance / reference std for drift"
    )
    drift_mean_change_floor: float = Field(
        default=0.05,
        gt=0,
        description="Relative change of the mean for drift, on ratio-scale numbers (money, counts)",
    )
    drift_js_floor: float = Field(
        default=0.1, gt=0, description="Jensen–Shannon distance (base 2) for drift"
    )
    drift_unseen_share: float = Field(
        default=0.01, gt=0, le=1, description="Share of never-seen categories for drift"
    )
    drift_missing_rate_change: float = Field(
        default=0.05, gt=0, le=1, description="Absolute change in missing-value rate for drift"
    )
    drift_warning_fraction: float = Field(
        default=0.5, gt=0, le=1, description="Warning at this fraction of the non-PSI floors"
    )
    drift_share: float = Field(
        default=0.2, ge=0, le=1, description="Share of drifting features for overall drift"
    )
    drift_chunk: str = Field(default="auto", description="Chunks over time: auto, 1h, 1d or N rows")
    drift_recent_chunks: int = Field(
        default=2, ge=0, description="Overall drift when each of the last N chunks drifts (0: off)"
    )
    drift_min_rows: int = Field(default=30, ge=1, description="Fewest rows for a verdict")

    # outcomes, realised performance and experiments
    outcome_window_days: float = Field(
        default=90,
        gt=0,
        le=3650,
        allow_inf_nan=False,
        description="An outcome given by customer id labels that customer's predictions made "
        "up to this many days before it was observed",
    )
    performance_min_per_class: int = Field(
        default=50,  # statistics.defaults.DEFAULT_MIN_PER_CLASS (a test keeps them equal;
        ge=2,  # importing it here would load scipy into every command)
        description="Fewest churned and fewest retained outcomes for a realised metric (per "
        "version, period or experiment arm)",
    )
    performance_max_auc_drop: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Degraded when the realised AUC's whole interval lies more than this "
        "below the hold-out AUC",
    )
    performance_chunk: str = Field(
        default="1w", description="Periods of the performance report: 1d, 1w, … or N predictions"
    )

    @field_validator("log_level", "api_extra_fields", "batch_errors", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, url: SecretStr | None) -> SecretStr | None:
        """Empty means unset; anything else must be a PostgreSQL URL."""
        if url is None or url.get_secret_value().strip() == "":
            return None
        return SecretStr(check_scheme(url.get_secret_value().strip()))

    @field_validator("admin_token", "feedback_token")
    @classmethod
    def _strong_token(cls, token: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """Empty means no token (its endpoints disabled); anything else must be long enough
        not to be guessed."""
        if token is None or token.get_secret_value() == "":
            return None
        value = token.get_secret_value().strip()
        if len(value) < MIN_ADMIN_TOKEN:
            area = (info.field_name or "").removesuffix("_token")
            raise ValueError(
                f"the {area} token must have at least {MIN_ADMIN_TOKEN} characters besides "
                "surrounding spaces; make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        return SecretStr(value)

    # ---- paths, all under home -------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def raw_csv(self) -> Path:
        return self.data_dir / "raw.csv"

    @property
    def raw_meta(self) -> Path:
        return self.data_dir / "raw.meta.json"

    @property
    def processed_csv(self) -> Path:
        return self.data_dir / "processed.csv"

    @property
    def rejected_csv(self) -> Path:
        return self.data_dir / "rejected.csv"

    @property
    def quality_report(self) -> Path:
        return self.data_dir / "quality_report.json"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def registry_dir(self) -> Path:
        return self.home / "registry"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def inference_db(self) -> Path:
        return self.logs_dir / "inference.sqlite"

    @property
    def database(self) -> DatabaseUrl | None:
        """The shared PostgreSQL store, if one is set."""
        return (
            None if self.database_url is None else DatabaseUrl(self.database_url.get_secret_value())
        )

    @property
    def log_location(self) -> Path | DatabaseUrl:
        """Where the inference log and the outcomes are: the database if set, else the SQLite
        file under home."""
        return self.database or self.inference_db

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    def check_project_folder(self, source: str) -> None:
        """Refuse a project folder that does not exist (a mistyped path) or is a file, naming
        ``source``, what set it (``--home``, ``CHURNOPS_HOME``…), rather than reading it as an
        empty project and creating it on the first write.

        Only in file mode (no database URL), where the registry and the inference log are files
        under the folder. In database mode they live in PostgreSQL and the folder holds only a
        cache, made when needed (a replica starts from an empty one), so it may be missing; a
        command that reads a file of the folder names that file if it is missing."""
        if self.database is not None or self.home.is_dir():
            return
        if self.home.exists():
            raise BadInputError(
                f"project folder {self.home} is a file, not a folder: check {source}"
            )
        raise BadInputError(
            f"project folder {self.home} does not exist: check {source}, or start a project there "
            "with `churnops init --from FILE` or `churnops generate`"
        )


def env_name(setting: str) -> str:
    """The environment variable that sets ``setting`` (``CHURNOPS_HOME`` for ``home``)."""
    field = Settings.model_fields.get(setting)
    alias = None if field is None else field.validation_alias
    if isinstance(alias, str):  # a variable of its own name: CHURNOPS_SCHEMA for schema_file
        return alias
    return f"{Settings.model_config['env_prefix']}{setting.upper()}"


def _source(name: str, given: dict[str, Any]) -> str:
    """Where a bad value came from: the command line or the environment."""
    if name not in given:
        return f"the {env_name(name)} variable"
    if name.startswith(("drift_", "performance_")):  # short options: --alpha for drift_alpha
        return "the command line"
    return f"the --{name.replace('_', '-')} option"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit (CLI) values on top; ``None`` means unset."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        shown = "(hidden)" if name in SECRET_SETTINGS else repr(first.get("input"))
        raise BadInputError(
            f"invalid setting {name} = {shown}: {first['msg']} (from {_source(name, given)})"
        ) from exc
