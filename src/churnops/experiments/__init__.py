"""Experiments between the champion and a challenger version (A/B and shadow)."""
