"""LAD examples generated from test images (paper Fig. 7), and the models
fine-tuned at one eps each scored on them."""

from __future__ import annotations

import dataclasses

from lad_tf.evaluation.context import load_model
from lad_tf.evaluation.transfer import transfer_rows
from lad_tf.lad.attention_svm import svm_for_pairs
from lad_tf.lad.boundary import GeneratedSet, generate
from lad_tf.lad.targets import run_targets
from lad_tf.utils.cache import write_npz
from lad_tf.utils.metrics import accuracy

PIECES = ("classifier.keras", "generator.keras", "svm.keras")


def load_lad_pieces(run_dir) -> tuple | None:
    """(classifier, generator, svm) of the run, or None when a file is missing."""
    if not all((run_dir / n).is_file() for n in PIECES):
        return None
    return tuple(load_model(run_dir / n) for n in PIECES)


def _per_eps(made: GeneratedSet, eps: list[float]) -> dict[float, tuple]:
    """eps -> (images float32 [M, H, W, C], source labels int [M]) of a generated set."""
    return {e: (made.images[i].reshape(-1, *made.images.shape[3:]), made.source[i].reshape(-1))
            for i, e in enumerate(eps)}


def lad_test_sets(ctx, pieces) -> dict[float, tuple]:
    """LAD examples from `lad_per_class` test images per class and target, per eps.

    Crafted through the original model's latent space with the run's
    targets (svm.targets); labelled with the source class. Evaluation only:
    none of them is used for training. Cached as `<folder>/lad-test-set.npz`,
    reused while its eps, size and pairs match.

    Args:
        ctx: the `EvaluationContext`; pieces: `load_lad_pieces`'s tuple or None.

    Returns:
        eps -> (x float32 [M, H, W, C] in [0, 1], y int [M]); {} without pieces
        or with evaluation.lad_per_class 0.
    """
    cfg = ctx.cfg
    if pieces is None or cfg.lad_per_class == 0:
        return {}
    path = ctx.folder / "lad-test-set.npz"
    eps = ctx.curve_eps()
    targets = run_targets(ctx.run_dir, ctx.num_classes)  # the run's svm.targets
    pairs = targets.pairs
    if path.is_file():
        found = GeneratedSet.load(path)
        if (list(map(float, found.eps)) == eps and found.images.shape[2] == cfg.lad_per_class
                and found.pairs.tolist() == [list(p) for p in pairs]):
            return _per_eps(found, eps)
    classifier, generator, svm = pieces
    ctx.log(f"evaluate: LAD examples from {cfg.lad_per_class} test images per class and "
            f"target at eps {eps}")
    made = generate(classifier, generator, svm_for_pairs(svm, targets.svm_pairs, pairs),
                    ctx.data.x_test, ctx.data.y_test, pairs, cfg.lad_per_class, eps,
                    ctx.recipe.generation.eps_unit, seed=cfg.seed + 2)
    write_npz(path, **dataclasses.asdict(made))
    return _per_eps(made, eps)


def sweep_models(ctx, lad_sets: dict, transfer: dict) -> dict:
    """Clean and LAD-example accuracy of the models fine-tuned at one eps each
    (`methods/lad-eps-<eps>.keras`), and their transfer accuracy (Table III's
    FT-eps column).

    Returns:
        "<eps>" -> {"clean_accuracy", "lad_accuracy" (when a LAD set of that
        eps exists), "transfer_<attack>_accuracy"...}; models not trained are left out.
    """
    out = {}
    y_test = ctx.data.y_test
    for eps in ctx.recipe.hardening.sweep_eps:
        path = ctx.run_dir / "methods" / f"lad-eps-{eps:g}.keras"
        if not path.is_file():
            continue
        model = load_model(path)
        cache = ctx.cache(f"lad-eps-{eps:g}", path)
        row = {"clean_accuracy": cache.get("clean", lambda: accuracy(
            model, ctx.data.x_test, y_test))}
        if eps in lad_sets:
            row["lad_accuracy"] = cache.get(f"lad:{eps:g}", lambda: accuracy(model, *lad_sets[eps]))
        for attack, scored in transfer_rows(model, transfer, y_test, cache).items():
            row[f"transfer_{attack}_accuracy"] = scored["accuracy"]
        out[f"{eps:g}"] = row
        ctx.log(f"  FT-{eps:g} (one eps): clean {row['clean_accuracy']:.4f}"
                + (f", LAD examples {row['lad_accuracy']:.4f}" if "lad_accuracy" in row else ""))
    return out


def lad_accuracy(model, lad_sets: dict, cache) -> dict[str, float]:
    """"<eps>" -> accuracy of `model` on the LAD test set of that eps, cached as "lad:<eps>"."""
    return {f"{eps:g}": cache.get(f"lad:{eps:g}", lambda x=x, y=y: accuracy(model, x, y))
            for eps, (x, y) in lad_sets.items()}

