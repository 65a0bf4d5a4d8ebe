"""Realised performance of the model versions on the true outcomes that have arrived."""
