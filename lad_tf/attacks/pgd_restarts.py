"""PGD with random restarts (Madry et al. 2018) over cleverhans 4.0.0's
`projected_gradient_descent`: each restart starts at another uniform point of
the eps ball; per image the first restart that fools the model is kept.
"""

from __future__ import annotations

import numpy as np

from lad_tf.attacks.norms import resolve_norm
from lad_tf.attacks.pgd import pgd
from lad_tf.utils.batching import predict_labels
from lad_tf.utils.errors import LadError


def _check(eps, eps_iter, nb_iter, restarts):
    for key, value in (("nb_iter", nb_iter), ("restarts", restarts)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise LadError(f"pgd_restarts: {key} must be an integer >= 1. "
                           f"Received: {key}={value!r}")
    if not eps >= 0:
        raise LadError(f"pgd_restarts: eps must be >= 0. Received: eps={eps!r}")
    if not eps_iter > 0:
        raise LadError(f"pgd_restarts: eps_iter must be > 0. Received: eps_iter={eps_iter!r}")


def pgd_restarts(model, x, y=None, eps: float = 0.3, eps_iter: float = 0.01, nb_iter: int = 100,
                 restarts: int = 5, seed: int | None = 0, norm="inf"):
    """Untargeted PGD (L-inf, or L2 with norm=2), `restarts` random starts per image.

    Restart r runs only on the images that no earlier restart fooled, so a
    restart never undoes an earlier success: accuracy never rises with restarts.

    Args:
        model: callable images -> logits [B, K]; a single (sigmoid) logit
            is attacked through `softmax_logits`.
        x: float32 [B, H, W, C] in [0, 1].
        y: optional int [B] true labels (else the model's predictions).
        eps: the budget in `norm` (0 returns x unchanged); eps_iter: step size;
            nb_iter: steps per restart (PGD-100: 100).
        restarts: random starts per image.
        seed: restart r seeds TensorFlow with seed + r (None: unseeded).
        norm: "inf" or 2 (`lad_tf.attacks.norms`).
    Returns: float32 [B, H, W, C] in [0, 1]: per image the first restart's
        example that is misclassified, else the last restart's.

    Raises:
        LadError: a bad parameter.
    """
    _check(eps, eps_iter, nb_iter, restarts)
    resolve_norm(norm, "pgd_restarts")
    x = np.asarray(x, "float32")
    if eps == 0 or len(x) == 0:
        return x.copy()
    logits = np.asarray(model(x, training=False))
    y = predict_labels(logits) if y is None else np.asarray(y)
    x_adv = x.copy()
    fooled = np.zeros(len(x), bool)
    for r in range(int(restarts)):
        todo = np.flatnonzero(~fooled)
        if len(todo) == 0:
            break
        tried = np.asarray(pgd(model, x[todo], eps=eps, eps_iter=eps_iter, nb_iter=int(nb_iter),
                               y=y[todo], rand_init=True,
                               seed=None if seed is None else int(seed) + r, norm=norm))
        x_adv[todo] = tried
        fooled[todo] = predict_labels(model(tried, training=False)) != y[todo]
    return x_adv
