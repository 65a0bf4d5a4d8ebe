"""churnops: a churn-prediction MLOps toolkit — data, checks, training, registry, serving, drift."""

__version__ = "0.1.0"
