"""Stage 4, boundary-guided generation (Sec. III-B): z' = z + eps beta(z) d, G(z').

Artifacts: generated.npz (the hardening set of Eq. 4) and
generated-sweep.npz (the eps sweep's first example of every pair, what the
figures of `lad_tf.pipeline.stages.figures.generation_figures` show).
"""

from __future__ import annotations

from pathlib import Path

from lad_tf.lad.boundary import GeneratedSet, generate
from lad_tf.lad.targets import TargetChoice
from lad_tf.pipeline.run import Run
from lad_tf.utils.monitoring import log

SWEEP_FILE = "generated-sweep.npz"


def sweep_path(run_dir: Path) -> Path:
    """The saved eps sweep (first example of every pair) of a run."""
    return Path(run_dir) / SWEEP_FILE


def generate_set(run: Run, classifier, generator, svm, targets: TargetChoice, per_class: int,
                 eps_values, label: str) -> GeneratedSet:
    """Generates from the provider split along every pair of `targets`.

    Args:
        run: the run (its recipe's `generation` section, the provider split).
        classifier, generator: the original classifier and G.
        svm: the fitted SVMs (of `targets.svm_pairs`).
        targets: the run's `TargetChoice`.
        per_class: source images per class (and target).
        eps_values: the eps values, in the recipe's `generation.eps_unit`.
        label: the progress lines' prefix.

    Returns: the `GeneratedSet`, arrays [E, P, N, ...].
    """
    cfg = run.recipe.generation
    return generate(
        classifier, generator, targets.generation_svm(svm), run.data.x_provider,
        run.data.y_provider, targets.pairs, per_class, eps_values, cfg.eps_unit,
        batch_size=cfg.batch_size, seed=run.recipe.data.seed,
        progress=lambda i, n, eps: log(f"{label}: eps {eps:g} done ({i + 1}/{n})"))


def generate_sets(run: Run, classifier, generator, svm, targets: TargetChoice) -> tuple[dict, dict]:
    """The eps sweep (measured, its first examples saved) and the hardening set.

    Args:
        run: the run (its recipe's `generation` and `hardening` sections).
        classifier, generator, svm, targets: the outputs of stages 1-3.

    Returns:
        (metrics: per-eps attack success, targeted success and Eq. 3
         inconsistency, per-pair success, the hardening set's stats, {}).
        The hardening set is saved as generated.npz, the sweep's first
        examples as generated-sweep.npz.
    """
    gen_cfg, hard_cfg = run.recipe.generation, run.recipe.hardening
    sweep_eps = [0.0] + [float(e) for e in gen_cfg.eps_sweep]
    sweep = generate_set(run, classifier, generator, svm, targets, gen_cfg.per_class,
                         sweep_eps, "sweep")
    stats = sweep.stats()
    for row in stats:
        log(f"eps {row['eps']:g}: attack success {row['attack_success']:.3f}, targeted "
            f"{row['targeted_success']:.3f}, inconsistency (Eq. 3) {row['inconsistency']:.3f}")
    sweep.first_examples().save(sweep_path(run.run_dir))
    train_set = generate_set(run, classifier, generator, svm, targets, hard_cfg.per_class,
                             list(hard_cfg.eps), "hardening set")
    train_set.save(run.artifact("generate"))
    x_adv, _ = train_set.training_set(hard_cfg.only_inconsistent)
    return {
        "eps_unit": gen_cfg.eps_unit,
        "sweep_per_class": gen_cfg.per_class,
        "sweep": stats,
        "pair_success": {"eps": sweep_eps, "pairs": [list(p) for p in targets.pairs],
                         "rate": sweep.pair_success().tolist()},
        "hardening_set": {"eps": list(hard_cfg.eps), "per_class": hard_cfg.per_class,
                          "stats": train_set.stats(), "examples": int(len(x_adv)),
                          "only_inconsistent": hard_cfg.only_inconsistent},
    }, {}


def load_generated(run: Run) -> dict:
    """Nothing to load: the hardening stage reads generated.npz when it needs it."""
    return {}
