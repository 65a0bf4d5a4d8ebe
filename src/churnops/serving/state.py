"""What one API process holds: built with the app, started and stopped by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from churnops.serving.connections import ConnectionGuard
from churnops.serving.inference_log import InferenceLogWriter
from churnops.serving.metrics import ServingMetrics
from churnops.serving.predictor import Predictor
from churnops.serving.registry_updates import RegistryUpdates
from churnops.serving.security import AdminGuard
from churnops.settings import Settings


@dataclass(frozen=True)
class ServingState:
    settings: Settings
    predictor: Predictor
    log: InferenceLogWriter | None  # None when CHURNOPS_INFERENCE_LOG=false
    metrics: ServingMetrics
    connections: ConnectionGuard
    admin: AdminGuard
    updates: RegistryUpdates
