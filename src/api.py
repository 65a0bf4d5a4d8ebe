"""Seed step 7: `uvicorn src.api:app --reload` from the project root — the churnops API."""

from churnops.api import app

__all__ = ["app"]
