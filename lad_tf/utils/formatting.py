"""How numbers read in every table and log line of LAD-TF."""

from __future__ import annotations


def pct(value) -> str:
    """A fraction in [0, 1] as a percentage with two decimals; None as "n/a"."""
    return "n/a" if value is None else f"{100 * value:.2f}%"
