"""Alerting: POST a short JSON summary of a drift report to a webhook (Slack-style receivers,
Alertmanager webhooks, a ticketing bridge…)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from churnops.errors import BadInputError
from churnops.monitoring.results import DriftReport

TIMEOUT_S = 10.0


def summary(report: DriftReport, report_path: str | None) -> dict[str, Any]:
    """What a receiver needs to act: verdict, score, which features drift and where to look."""
    drifting = report.with_status("drift")
    return {
        "event": "churnops.drift",
        "generated_at": report.generated_at,
        "drift_detected": report.drift_detected,
        "drift_score": report.drift_score,
        "drift_began": report.drift_began,
        "drifting_features": drifting,
        "warning_features": report.with_status("warning"),
        "prediction_status": report.prediction.status if report.prediction else None,
        "model_versions": [g.model_version for g in report.groups],
        "report": report_path,
        "text": (
            f"churnops: drift detected (score {report.drift_score:.2f}) on "
            f"{', '.join(drifting) or 'the prediction'}"
        ),
    }


@dataclass(frozen=True)
class AlertResult:
    sent: bool
    status_code: int | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "status_code": self.status_code, "error": self.error}


def check_webhook(url: str) -> None:
    """Refuse a webhook URL that cannot be posted to before any work is done, rather than
    finding out only when drift is detected."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BadInputError(f"--alert-webhook {url!r} is not a URL ({exc})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadInputError(
            f"--alert-webhook {url!r} is not an http(s) URL with a host; give e.g. "
            "http://127.0.0.1:9000/hook"
        )


def post_alert(url: str, payload: dict[str, Any], timeout: float = TIMEOUT_S) -> AlertResult:
    """POST ``payload``; a refused connection or a non-2xx answer is reported, not raised."""
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        return AlertResult(False, None, f"{type(exc).__name__}: {exc}")
    if response.is_success:
        return AlertResult(True, response.status_code, None)
    return AlertResult(False, response.status_code, f"the webhook answered {response.status_code}")
