"""Stage 3, attention SVMs (Sec. III-B): the class boundaries in latent space.

Artifact: svm.keras; the chosen (source, target) pairs are recorded in
metrics/svm.json (`targets`), which `lad_tf.lad.targets.run_targets` reads back.
"""

from __future__ import annotations

import keras
import numpy as np

from lad_tf.lad.attention_svm import (
    AttentionSVM,
    fit_attention_svms,
    pair_datasets,
    svm_accuracy,
)
from lad_tf.lad.targets import TargetChoice, choose_targets, resolve_mode, run_targets
from lad_tf.pipeline.run import Run, latents
from lad_tf.utils.batching import batched
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import save_keras
from lad_tf.utils.monitoring import log
from lad_tf.utils.traced import traced_call


def choose_run_targets(run: Run, classifier, z: np.ndarray) -> TargetChoice:
    """Resolves `svm.targets` on the provider latents z [N, D] (never test images)."""
    cfg, data = run.recipe.svm, run.data
    logits = None
    if resolve_mode(cfg, data.num_classes) == "nearest" and cfg.nearest_by == "confusion":
        logits = batched(traced_call(classifier, "head"), z, 500)  # f_p(phi(x)) == f(x)
    choice = choose_targets(cfg, data.num_classes, z, data.y_provider, logits)
    if choice.mode == "nearest":
        log(f"svm: targets: each class's {choice.k} nearest classes by {choice.measure}: "
            f"{len(choice.pairs)} of {data.num_classes * (data.num_classes - 1)} "
            f"ordered pairs, {len(choice.svm_pairs)} SVMs (one per unordered pair)")
    return choice


def fit_svms(run: Run, classifier) -> tuple[dict, dict]:
    """Fits one attention SVM per pair of `svm_pairs`, together, on provider latents.

    Args:
        run: the run (its recipe's `svm` section, the provider split).
        classifier: the original classifier (phi gives the latents).

    Returns:
        (metrics: held-out and fit accuracy per pair, the target choice,
         {"svm": the fitted `AttentionSVM` as saved in svm.keras,
          "targets": the `TargetChoice`}).

    Raises:
        LadError: a class has too few provider images for svm.per_class.
    """
    cfg, seed = run.recipe.svm, run.recipe.data.seed
    z = latents(classifier, run.data.x_provider)
    targets = choose_run_targets(run, classifier, z)
    pairs = targets.svm_pairs
    try:
        z_fit, y_fit, z_hold, y_hold = pair_datasets(
            z, run.data.y_provider, pairs, cfg.per_class, cfg.holdout_fraction, seed=seed)
    except ValueError as exc:
        raise LadError(f"{exc}; lower svm.per_class with --set svm.per_class=N") from None
    svm = AttentionSVM(len(pairs), classifier.latent_dim, cfg.attention, cfg.c,
                       cfg.attention_rank)
    log(f"svm: fitting {len(pairs)} attention SVMs together on "
        f"{z_fit.shape[1]} latents each ({z_hold.shape[1]} held out)")
    every = max(1, cfg.epochs // 5)
    fit_attention_svms(
        svm, z_fit, y_fit, epochs=cfg.epochs, batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, seed=seed,
        progress=lambda e, l: (e + 1) % every == 0 and log(
            f"svm epoch {e + 1}/{cfg.epochs}: loss {l:.4f}"))
    save_keras(svm, run.artifact("svm"))
    held, fit = svm_accuracy(svm, z_hold, y_hold), svm_accuracy(svm, z_fit, y_fit)
    worst = int(np.argmin(held))
    log(f"svm: held-out accuracy mean {held.mean():.4f}, worst {held.min():.4f} "
        f"(pair {pairs[worst]})")
    return {"pairs": [list(p) for p in pairs], "heldout_accuracy": held.tolist(),
            "heldout_accuracy_mean": float(held.mean()),
            "heldout_accuracy_min": float(held.min()), "worst_pair": list(pairs[worst]),
            "fit_accuracy_mean": float(fit.mean()), "attention": cfg.attention,
            "attention_rank": cfg.attention_rank, "targets": targets.to_dict(),
            }, {"svm": svm, "targets": targets}


def load_svms(run: Run) -> dict:
    """{"svm": the SVMs read from svm.keras, "targets": the run's recorded choice}."""
    return {"svm": keras.models.load_model(run.artifact("svm")),
            "targets": run_targets(run.run_dir, run.data.num_classes)}
