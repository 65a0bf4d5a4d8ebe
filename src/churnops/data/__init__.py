"""Data stages: synthetic generation and preparation with quality checks."""
