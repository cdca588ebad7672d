"""The threat norm an attack bounds its perturbation in: L-inf or L2.

Recipes are JSON, which has no infinity: a recipe writes `"norm": "inf"` or
`"norm": 2`; the adapters hand the libraries `np.inf` or 2.
"""

from __future__ import annotations

import numpy as np

from lad_tf.utils.errors import LadError

NORMS = ("inf", 2)


def resolve_norm(norm, attack: str = "attack") -> float:
    """`np.inf` for "inf" / np.inf, 2 for 2 / "2".

    Raises:
        LadError: any other norm.
    """
    if isinstance(norm, str) and norm.strip().lower() in ("inf", "linf"):
        return np.inf
    if not isinstance(norm, bool) and isinstance(norm, (int, float, np.number, str)):
        try:
            value = float(norm)
        except ValueError:
            value = None
        if value == np.inf:
            return np.inf
        if value == 2:
            return 2
    raise LadError(f"{attack}: norm must be \"inf\" (L-inf) or 2 (L2). Received: norm={norm!r}")


def norm_label(norm) -> str:
    """ "L-inf" or "L2"."""
    return "L-inf" if resolve_norm(norm) == np.inf else "L2"
