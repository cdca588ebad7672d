"""How varied each method's examples made from the same source image are:
LAD (every target, every eps), FGSM (an eps sweep) and JSMA (every other
class as target), from `diversity_per_class` provider images per class."""

from __future__ import annotations

import dataclasses

import numpy as np

from lad_tf.attacks import craft
from lad_tf.attacks.budget import attack_params
from lad_tf.attacks.logits import attack_classes
from lad_tf.lad.attention_svm import svm_for_pairs
from lad_tf.lad.boundary import GeneratedSet, generate
from lad_tf.lad.targets import run_targets
from lad_tf.utils.batching import predict
from lad_tf.utils.cache import read_keyed_json, write_keyed_json
from lad_tf.utils.files import cache_key, fingerprint
from lad_tf.utils.sampling import balanced_subset, targeted_subset

FGSM_SWEEP = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # FGSM examples per source


@dataclasses.dataclass
class DiversityExamples:
    """The examples the diversity was measured on, for Fig. 4.

    Attributes:
        x, y: the provider images float32 [S, H, W, C] and labels int [S].
        lad: the generated LAD set of those images.
        x_fgsm: FGSM examples at the sweep's largest eps, [S, H, W, C].
        x_jsma: JSMA examples [S * (K - 1), H, W, C]; jsma_source: int [S * (K - 1)],
            the position in x of each one's source image.
    """

    x: np.ndarray
    y: np.ndarray
    lad: GeneratedSet
    x_fgsm: np.ndarray
    x_jsma: np.ndarray
    jsma_source: np.ndarray


def diversity_stats(groups, label_groups, sources, paths) -> dict:
    """Per source image: mean pairwise L2 between its examples, their mean L2 to
    the source and the number of distinct predicted labels; over the set: the
    number of distinct predicted-label paths across eps (None: no eps path)."""
    pairwise, to_source, labels = [], [], []
    for g, lbl, x in zip(groups, label_groups, sources):
        flat = g.reshape(len(g), -1).astype("float64")
        if len(flat) > 1:
            sq = (flat ** 2).sum(1)
            d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * flat @ flat.T, 0)
            pairwise.append(np.sqrt(d2)[np.triu_indices(len(flat), 1)].mean())
        to_source.append(np.sqrt(((flat - x.reshape(1, -1)) ** 2).sum(1)).mean())
        labels.append(len(set(lbl)))
    out = {"examples_per_source": float(np.mean([len(g) for g in groups])),
           "mean_pairwise_l2": float(np.mean(pairwise)) if pairwise else 0.0,
           "mean_l2_to_source": float(np.mean(to_source)),
           "distinct_labels_per_source": float(np.mean(labels))}
    if paths is not None:
        out["distinct_label_paths"] = int(len(set(paths)))
        out["label_paths"] = int(len(paths))
    return out


def _lad_stats(lad: GeneratedSet, x: np.ndarray) -> dict:
    """diversity_stats of the LAD examples, grouped per source image over targets and eps."""
    images, labels, paths = {}, {}, []
    for p in range(len(lad.pairs)):
        for j, src in enumerate(lad.source_index[p]):
            images.setdefault(int(src), []).extend(lad.images[:, p, j])
            labels.setdefault(int(src), []).extend(lad.pred_image[:, p, j].tolist())
            paths.append(tuple(lad.pred_image[:, p, j].tolist()))
    groups = [np.stack(images[i]) for i in range(len(x))]
    return diversity_stats(groups, [labels[i] for i in range(len(x))], x, paths)


def _fgsm_stats(classifier, x, y) -> tuple[dict, np.ndarray]:
    """(diversity_stats over FGSM_SWEEP per image, the examples at the largest eps)."""
    k = attack_classes(classifier)
    crafted = [craft("fgsm", classifier, x, y=y, num_classes=k, eps=e) for e in FGSM_SWEEP]
    preds = [predict(classifier, xa) for xa in crafted]
    groups = [np.stack([xa[i] for xa in crafted]) for i in range(len(x))]
    labels = [[int(p[i]) for p in preds] for i in range(len(x))]
    return diversity_stats(groups, labels, x, [tuple(lbl) for lbl in labels]), crafted[-1]


def _jsma_stats(ctx, classifier, x, y, n) -> tuple[dict, np.ndarray, np.ndarray]:
    """(diversity_stats of JSMA toward every other class, the examples, their source positions)."""
    k = attack_classes(classifier)
    source, target = targeted_subset(y, n, k, ctx.cfg.seed)
    x_jsma = craft("jsma", classifier, x[source], target=target, num_classes=k,
                   **attack_params(ctx.cfg, "jsma"))
    pred = predict(classifier, x_jsma)
    groups = [x_jsma[source == i] for i in range(len(x))]
    labels = [pred[source == i].tolist() for i in range(len(x))]
    return diversity_stats(groups, labels, x, None), x_jsma, source


def measure_diversity(ctx, pieces) -> tuple[dict, DiversityExamples | None]:
    """The diversity of LAD, FGSM and JSMA examples of the same provider images.

    Args:
        ctx: the `EvaluationContext`; pieces: (classifier, generator, svm) or None.

    Returns:
        (result, examples): result holds sources, eps, fgsm_eps and per
        method ("LAD", "FGSM", "JSMA") its `diversity_stats`; {} without
        pieces or with diversity_per_class 0. examples: what was measured,
        for Fig. 4, or None when the result came from `<folder>/diversity.json`.
    """
    if pieces is None or ctx.cfg.diversity_per_class == 0:
        return {}, None
    classifier, generator, svm = pieces
    targets = run_targets(ctx.run_dir, ctx.num_classes)  # the run's svm.targets
    cached = ctx.folder / "diversity.json"
    key = cache_key(fingerprint(ctx.run_dir / "classifier.keras"), ctx.key_settings(),
                    ctx.curve_eps(), *([targets.to_dict()] if targets.mode != "all" else []))
    found = read_keyed_json(cached, key)
    if found is not None:
        return found, None
    n = ctx.cfg.diversity_per_class
    idx = balanced_subset(ctx.data.y_provider, n, ctx.cfg.seed + 3)
    x, y = ctx.data.x_provider[idx], ctx.data.y_provider[idx]
    eps = [e for e in ctx.curve_eps() if e > 0]
    ctx.log(f"evaluate: diversity of LAD, FGSM and JSMA examples from {len(idx)} provider images")
    lad = generate(classifier, generator, svm_for_pairs(svm, targets.svm_pairs, targets.pairs),
                   x, y, targets.pairs, n, eps, ctx.recipe.generation.eps_unit, seed=ctx.cfg.seed)
    fgsm, x_fgsm = _fgsm_stats(classifier, x, y)
    jsma, x_jsma, source = _jsma_stats(ctx, classifier, x, y, n)
    result = {"sources": int(len(x)), "eps": eps, "fgsm_eps": list(FGSM_SWEEP),
              "LAD": _lad_stats(lad, x), "FGSM": fgsm, "JSMA": jsma}
    write_keyed_json(cached, key, result)
    return result, DiversityExamples(x, y, lad, x_fgsm, x_jsma, source)
