"""GA, the paper's latent-space baseline, measured on a run.

    python -m lad_tf.ga_study RUN_DIR --acgan FILE

Takes an evaluated run of `python -m lad_tf.harden` (its original LeNet,
defended models in `methods/`, the black-box CNN and LAD's test-set
examples in `evaluation/`) and an AC-GAN from `python -m lad_tf.acgan`, and
measures, each part cached in RUN_DIR/ga/ so that a killed study continues:

  samples     the original LeNet's accuracy on class-conditional AC-GAN
              samples (per_class of each class)
  judge       the label-keeping judge (`lad_tf.studies.ga.judge`): its clean test
              accuracy and its rate on LAD's reconstructions G(phi(x))
  transfer    Table III's GA row: untargeted GA crafted on the black-box
              CNN, read by the original, FT-eps, LAD and every defence
  whitebox    GA crafted against each model itself
  ga-ft       Table IV's GA-FT row: Eq. 4 fine-tuning of the original on GA
              examples (sources: provider-split labels), clean test accuracy
  rates       the judge's rates for GA, LAD (per eps), JSMA and C&W examples
  steps       GA's success (untargeted and targeted) at `--steps` against
              `--check-steps` (1,000: the authors' code) on the original

RUN_DIR/ga/report.md and RUN_DIR/figures/ga_*.png sum it up. Sources of the
evaluated sets are test-split labels; GA draws z0 from its own seed per set.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lad_tf.utils.cache import read_keyed_json, write_keyed_json
from lad_tf.utils.errors import LadError

PARTS = ("samples", "judge", "transfer", "whitebox", "ga-ft", "rates", "steps")
LATEST = "study.json"  # the key of the latest study of a run


@dataclasses.dataclass(frozen=True)
class GASettings:
    """What a GA study measures with (recorded with every cached part).

    Attributes:
        steps: GA search steps per example.
        per_class: examples per class of the transfer set (paper: 450).
        whitebox_per_class: examples per class of each white-box set.
        ft_per_class: GA examples per class for GA-FT (provider labels).
        sample_per_class: AC-GAN samples per class for LeNet's accuracy.
        targeted_per_class: source images per class of the JSMA / C&W sets
            the judge reads (x 9 targets each).
        judge_epochs: the judge's training epochs (best validation kept).
        check_steps: the longer search the "steps" part compares with.
        check_per_class: examples per class of the "steps" part.
        batch_size: GA examples searched at once.
        seed: seed of the GA draws and the subsets.
    """

    steps: int = 100
    per_class: int = 100
    whitebox_per_class: int = 50
    ft_per_class: int = 100
    sample_per_class: int = 100
    targeted_per_class: int = 3
    judge_epochs: int = 4
    check_steps: int = 1000
    check_per_class: int = 10
    batch_size: int = 500
    seed: int = 0


def run_study(run_dir, acgan_path, settings: GASettings = GASettings(), parts=PARTS,
              methods=None, data_dir=None, log=None, extra: dict | None = None) -> dict:
    """Runs (or continues) the study's parts and writes the report.

    Args:
        run_dir: an evaluated run (classifier.keras, methods/, evaluation/).
        acgan_path: the AC-GAN's `.keras` file.
        settings: the sizes and GA budget.
        parts: which of `PARTS` to run (the report shows the finished ones).
        methods: defended models to attack (default: every methods/*.keras
            except the FT-eps sweep).
        data_dir: the dataset folder (default: $LAD_DATA_DIR).
        log: progress output (default: time-stamped lines on stderr).
        extra: {label: .keras path} of more models to read and attack (e.g.
            a defence of another run on the same data split).
    Returns: {part: result} of the finished parts.

    Raises:
        LadError: a missing file, an unknown part or method, or data that
            does not suit the AC-GAN.
    """
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise LadError(f"unknown GA study part(s) {unknown}; choose from {list(PARTS)}")
    run_dir, acgan_path = Path(run_dir), Path(acgan_path)
    for need in (run_dir / "recipe.json", run_dir / "classifier.keras", acgan_path):
        if not need.is_file():
            raise LadError(f"{need} is missing; the GA study needs an evaluated run "
                           "(`python -m lad_tf.harden` then `python -m lad_tf.evaluate`) and "
                           "an AC-GAN (`python -m lad_tf.acgan RUN_DIR`)")
    from lad_tf.studies.ga.parts import GAStudy  # lazy: TensorFlow loads after the checks
    from lad_tf.utils.monitoring import log as stamp_log  # lazy, as above

    study = GAStudy(run_dir, acgan_path, settings, methods, data_dir, log or stamp_log,
                    extra or {})
    write_keyed_json(run_dir / "ga" / LATEST, study.cache_key, study.key)  # for read_results
    results = {}
    for part in PARTS:
        if part in parts:
            results[part] = study.cached(part)
    from lad_tf.studies.ga.report import write_report  # lazy, as above

    write_report(run_dir, study.finished(), settings, study.log)
    return results


def read_results(run_dir) -> dict:
    """{part: result} of the finished parts of a run's latest GA study
    (RUN_DIR/ga/<part>.json written under the key in RUN_DIR/ga/study.json);
    parts left by a study of another AC-GAN, setting or model are not read."""
    folder = Path(run_dir) / "ga"
    try:
        key = json.loads((folder / LATEST).read_text())["key"]
    except (OSError, ValueError, KeyError):
        return {}
    return {p: result for p in PARTS
            if (result := read_keyed_json(folder / f"{p}.json", key)) is not None}
