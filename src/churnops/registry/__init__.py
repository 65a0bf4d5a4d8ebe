"""The model registry: versions, the current-model pointer, audit history and training statistics."""
