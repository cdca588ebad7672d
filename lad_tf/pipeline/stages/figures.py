"""The figures of the training stages, drawn from what the stages saved.

Each function runs after its stage (`Stage.figures` in
`lad_tf.pipeline.runner.STAGE_TABLE`) and reads the stage's artifacts and metrics;
no training stage draws. Images go to TensorBoard (`<run>/tensorboard/lad`)
and `<run>/figures/*.png` through `run.summaries`.
"""

from __future__ import annotations

import numpy as np

from lad_tf.lad import figures
from lad_tf.lad.boundary import GeneratedSet
from lad_tf.pipeline.run import Run, latents
from lad_tf.pipeline.stages.generate import sweep_path
from lad_tf.utils.batching import batched
from lad_tf.utils.monitoring import image_grid
from lad_tf.utils.traced import traced_call


def generator_figures(run: Run, metrics: dict, classifier, generator) -> None:
    """Reconstructions and Fig. 3: test images above G(phi(image)).

    Args:
        run: the run (its test split and summaries).
        metrics: the generator stage's metrics (unused; every figure step
            takes its stage's metrics).
        classifier, generator: the models of classifier.keras and generator.keras.
    """
    x_test = run.data.x_test
    # The first 500 test images in one batch: the batch the stage measured them in.
    recon = batched(traced_call(generator), latents(classifier, x_test[:500]), 500)
    rows = min(8, len(x_test) // 2)
    pairs = np.stack([x_test[:rows * 2], recon[:rows * 2]], axis=1).reshape(
        rows * 4, *x_test.shape[1:])
    run.summaries.image("reconstructions", image_grid(pairs, rows, 4),
                        description="test image, G(phi(image)), two per row")
    run.summaries.image("fig3_reconstructions",
                        figures.reconstruction_figure(x_test[:16], recon[:16], n=16),
                        description="Fig. 3: test images above their reconstructions")


def generation_figures(run: Run, metrics: dict) -> None:
    """The eps sweep's scalars, boundary crossings, Fig. 5 and Fig. 6.

    Args:
        run: the run (its provider split and summaries).
        metrics: the generate stage's metrics (`sweep`, `pair_success`); the
            images come from generated-sweep.npz.
    """
    for step, row in enumerate(metrics["sweep"]):
        run.summaries.scalar("generation/attack_success", row["attack_success"], step)
        run.summaries.scalar("generation/inconsistency", row["inconsistency"], step)
    sweep = GeneratedSet.load(sweep_path(run.run_dir))
    crossing_figure(run, sweep)
    success = metrics["pair_success"]
    run.summaries.image(
        "fig5_pair_success", figures.pair_success_heatmap(
            np.asarray(success["rate"]), sweep.pairs, sweep.eps, run.data.num_classes),
        description="Fig. 5: attack success per (source, target) pair and eps")
    transition_figure(run, sweep)


def crossing_figure(run: Run, sweep: GeneratedSet) -> None:
    """One row per source class: the source image, then G(z') for each eps."""
    rows, sources = [], set()
    for p, (s, t) in enumerate(sweep.pairs):
        if s in sources:
            continue
        sources.add(s)
        original = run.data.x_provider[sweep.source_index[p, 0]]
        rows.append([original] + [sweep.images[e, p, 0] for e in range(len(sweep.eps))])
    images = np.asarray([img for row in rows for img in row])
    run.summaries.image(
        "boundary_crossing", image_grid(images, len(rows), len(rows[0])),
        description="per row: source image, then G(z + eps beta d) for eps = "
                    + ", ".join(f"{e:g}" for e in sweep.eps) + " toward the first target")


def transition_figure(run: Run, sweep: GeneratedSet, rows: int = 6) -> None:
    """Fig. 6: one source image per row moved toward one target, with the
    classifier's prediction for every eps (first example of each pair)."""
    step = max(1, len(sweep.pairs) // rows)
    chosen = list(range(0, len(sweep.pairs), step))[:rows]
    images = np.stack([sweep.images[:, p, 0] for p in chosen])  # [R, E, H, W, C]
    predicted = np.stack([sweep.pred_image[:, p, 0] for p in chosen])
    titles = [f"{sweep.pairs[p][0]} -> {sweep.pairs[p][1]}" for p in chosen]
    run.summaries.image(
        "fig6_transitions", figures.transition_figure(images, predicted, sweep.eps, titles),
        description="Fig. 6: G(z + eps beta d) for rising eps with the predicted label")
