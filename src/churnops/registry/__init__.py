"""The model registry: versions, current-model pointer, audit history, training statistics."""
