"""Recipes: every hyper-parameter of a zoo entry, validated in one place
(`lad_tf.recipe.checks`).

A recipe is a JSON file (`zoo/<name>/recipe.json`) that maps onto the frozen
dataclasses below. `load_recipe` reads it, applies `--set section.key=value`
overrides and validates the result; the resolved recipe is written into the
run directory before any training starts.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

from lad_tf.recipe.checks import (
    DEFENCE_SECTIONS,
    NEAREST_MEASURES,
    SVM_TARGETS,
    check_recipe,
)
from lad_tf.recipe.names import ATTACK_NAMES, CORRUPTION_NAMES, METHOD_NAMES
from lad_tf.utils.errors import LadError

ZOO_DIR = Path(__file__).resolve().parents[2] / "zoo"  # lad_tf/recipe/schema.py -> the checkout


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist"
    provider_fraction: float = 1 / 6  # held-out part of the training data
    seed: int = 0
    image_size: typing.Optional[int] = None  # square side: celeba resizes to it, others check it
    channels: typing.Optional[int] = None  # checked against the data when set
    max_images: typing.Optional[int] = None  # celeba: read only the first N images
    use_tfds: typing.Optional[bool] = None  # None: tfds if prepared; True: only tfds; False: files
    # Part of the non-provider training data held out as the validation split,
    # on which defences select checkpoints (never provider or test images).
    validation_fraction: float = 0.0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A plain supervised fit (classifier or generator)."""

    model: str = "lenet"
    model_args: dict = dataclasses.field(default_factory=dict)
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    loss: str = "l2"  # generator only: l1 or l2 (Eq. 2, p = 1 or 2)
    precision: str = "float32"  # mixed_bfloat16 (bf16 compute, float32 weights), or auto:
    # bf16 only where the hardware computes it natively (lad_tf.utils.precision)
    schedule: str = "constant"  # or cosine: the learning rate decays to 0 over the epochs


@dataclasses.dataclass(frozen=True)
class SVMConfig:
    """Attention SVMs, one per ordered (source, target) class pair (Sec. III-B),
    or per nearest class pair (`targets`, lad_tf.lad.targets)."""

    per_class: int = 200  # latents per class, drawn from the provider split
    holdout_fraction: float = 1 / 3
    attention: str = "scaled_softmax"  # softmax | scaled_softmax | exp_softmax
    attention_rank: int = 0  # 0: full D x D attention kernel (the paper); r: rank-r factors
    c: float = 1.0
    learning_rate: float = 1e-3
    epochs: int = 30
    batch_size: int = 32
    # Target classes per source (lad_tf.lad.targets): all (every ordered pair, the
    # paper), nearest (each class's k nearest by nearest_by: mean_distance of
    # the class-mean latents, or the model's confusion on the provider split),
    # or auto (nearest above 20 classes, all otherwise).
    targets: str = "auto"
    k: int = 5
    nearest_by: str = "mean_distance"


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """Boundary-guided generation z' = z + eps * beta(z) * d (Sec. III-B)."""

    per_class: int = 50  # source images per class for the eps sweep
    eps_unit: str = "calibrated"  # calibrated: eps 1 reaches the SVM boundary
    eps_sweep: tuple = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)
    batch_size: int = 512


@dataclasses.dataclass(frozen=True)
class HardeningConfig:
    """Fine-tuning with Eq. 4."""

    alpha: float = 0.5
    eps: tuple = (1.0, 2.0)
    per_class: int = 200  # provider images per class used as sources
    only_inconsistent: bool = False  # keep only Eq. 3 violations
    epochs: int = 3
    batch_size: int = 64
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.5
    # Defences to build in the same harness (lad_tf.defences.DEFENCES); the
    # first is the one exported. `harden --method` sets this list.
    methods: tuple = ("lad",)
    # Fig. 7: one LAD model fine-tuned per eps ("Large Adv." sets, sweep_per_class
    # provider images per class and target at each eps); empty: skipped.
    sweep_eps: tuple = ()
    sweep_per_class: int = 50


@dataclasses.dataclass(frozen=True)
class BaselinesConfig:
    """The defences LAD is compared with (Table IV and the methods table).

    Fine-tuning baselines use LAD's Eq. 4 step, alpha, optimizer and epochs
    with their own examples in place of the generated ones, crafted against
    the original model on the provider split (never the test set).
    """

    per_class: int = 200  # provider images per class for FGSM / PGD fine-tuning
    targeted_per_class: int = 20  # provider images per class (x each other target) for JSMA / CW
    attack_params: dict = dataclasses.field(default_factory=dict)  # e.g. {"cw": {"max_iter": 10}}


@dataclasses.dataclass(frozen=True)
class DefenceConfig:
    """The training budget of one adversarial-training defence (its own
    recipe section: pgd_at, trades, fast_at, lad_fast, lad_pgd). `init`
    "original" fine-tunes the original model; "scratch" trains the same
    architecture from fresh weights (LAD's generated images are images, so
    the hybrids keep their second term). `epochs` is a ceiling, the
    validation split (`selection`) picks the epoch kept."""

    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "cosine"  # or constant
    eps: float = 0.3
    eps_ramp_epochs: float = 0.0  # eps grows linearly from 0 over these epochs
    steps: int = 10  # PGD steps (pgd-at, trades, lad+pgd)
    step_size: float = 0.075  # PGD step (2.5 eps / steps)
    alpha: float = 0.5  # hybrids: weight of the adversarial term (Eq. 4's clean-term slot)
    beta: float = 1.0  # trades: weight of the KL term
    nfgsm: bool = False  # fast-at, lad+fast: N-FGSM instead of FGSM with a random start
    steps_per_epoch: typing.Optional[int] = None  # cap (smoke runs); None: a full pass
    init: str = "original"  # or scratch: fresh weights of the original's architecture


@dataclasses.dataclass(frozen=True)
class SelectionConfig:
    """Checkpoint selection on the validation split (every defence)."""

    per_class: int = 100  # validation images per class scored after every epoch
    eps: float = 0.3
    pgd_steps: int = 20  # the short PGD of the validation score (0: clean only)
    patience: int = 2  # epochs without gain before stopping (0: train every epoch)
    min_delta: float = 0.002
    collapse_drop: float = 0.2  # robust-accuracy drop that counts as catastrophic overfitting


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """The robustness evaluation (Sec. IV-D1), all on the test split."""

    per_class: int = 450  # balanced test subset for untargeted attacks
    targeted_per_class: int = 50  # test images per class, each x every other target (JSMA, CW)
    cw_per_class: typing.Optional[int] = None  # C&W's own (smaller) size on CPU; None: targeted_per_class
    fgsm_eps: float = 0.3
    pgd_eps: float = 0.3  # also BIM, MIM, APGD and Square
    pgd_step: float = 0.01  # also BIM and MIM
    pgd_iterations: int = 40  # also BIM and MIM
    attacks: tuple = ("fgsm", "pgd", "bim", "mim", "jsma", "cw", "apgd", "square")
    attack_params: dict = dataclasses.field(default_factory=dict)  # e.g. {"square": {"max_iter": 50}}
    transfer_attacks: tuple = ("fgsm", "pgd", "jsma", "cw")  # crafted on the black-box CNN
    # Methods evaluated with clean, FGSM, PGD and transfer only (Table IV needs
    # their clean accuracy; the full white-box suite costs minutes per model).
    reduced_methods: tuple = ()
    # Robust suite, for every model on one class-balanced test sample: AutoAttack as far
    # as ART 1.20.1 runs it (APGD-CE, APGD-T, Square; no FAB) and PGD-100 with restarts,
    # each at pgd_eps; robust accuracy is the worst case per image (lad_tf.robust_suite).
    robust_per_class: int = 100  # test images per class; 0: no robust suite
    robust_attacks: tuple = ("apgd", "apgd_t", "square", "pgd_restarts")
    masking_eps: float = 1.0  # gradient-masking check: PGD at this eps must reach ~0%
    masking_per_class: int = 20  # images per class for that check (0: skipped)
    blackbox_model: str = "blackbox_cnn"
    blackbox_epochs: int = 5
    lad_per_class: int = 10  # test images per class and target for LAD-generated test sets
    diversity_per_class: int = 5  # provider images per class for the diversity measure
    batch_size: int = 500
    seed: int = 0
    # Threats judged on the robust sample (lad_tf.evaluation.threats; `python -m
    # lad_tf.evaluate --threats`): linf (the robust suite above), l2, spatial,
    # corruptions, ga, union. None of the settings below enters the cache key of
    # the L-inf results, so naming another threat reruns nothing else.
    threats: tuple = ("linf",)
    l2_eps: float = 2.0  # L2 budget on [0, 1] pixels
    l2_attack_params: dict = dataclasses.field(default_factory=dict)  # over the L2 suite's defaults
    spatial: dict = dataclasses.field(default_factory=dict)  # over names.SPATIAL_GRID
    corruptions: tuple = CORRUPTION_NAMES
    # Where the corrupted images come from: generated (in-process from the robust
    # sample), tfds (the published MNIST-C as TFDS `mnist_corrupted`, prepared on
    # this machine), or auto (tfds when every named corruption is prepared there).
    corruptions_source: str = "auto"
    ga_searches: int = 10  # GA searches per source class
    ga_steps: int = 1000  # GA steps per search (Song et al.'s code)
    ga_acgan: typing.Optional[str] = None  # AC-GAN .keras; None: RUN/acgan/chosen.keras or acgan.keras


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """The exported model, and how the run chooses it (lad_tf.evaluation.choice)."""

    name: str = "lenet_mnist_lad"
    base: str = "export/models"
    # auto: after the defences are trained, every candidate (the original and
    # each defence) is judged on the validation split by a short worst case
    # over the robust suite at evaluation.pgd_eps; the export is the one with
    # the highest validation worst case among those whose validation clean
    # accuracy is within max_clean_drop points of the original's. A method
    # name (or "original") forces that model (`harden --export-method`).
    method: str = "auto"
    max_clean_drop: float = 2.0  # percentage points of validation clean accuracy
    per_class: int = 10  # validation images per class the choice judges on
    # The short suite's budgets, over evaluation.attack_params (same attacks, eps).
    attack_params: dict = dataclasses.field(default_factory=lambda: {
        "apgd": {"max_iter": 20}, "apgd_t": {"max_iter": 20, "n_target_classes": 2},
        "square": {"max_iter": 100}, "pgd_restarts": {"nb_iter": 20, "restarts": 1}})


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str = "mnist"
    description: str = ""
    data: DataConfig = DataConfig()
    classifier: TrainConfig = TrainConfig()
    generator: TrainConfig = TrainConfig(model="mnist_generator", epochs=12, batch_size=256)
    svm: SVMConfig = SVMConfig()
    generation: GenerationConfig = GenerationConfig()
    hardening: HardeningConfig = HardeningConfig()
    baselines: BaselinesConfig = BaselinesConfig()
    pgd_at: DefenceConfig = DefenceConfig()
    trades: DefenceConfig = DefenceConfig()
    fast_at: DefenceConfig = DefenceConfig()
    lad_fast: DefenceConfig = DefenceConfig()
    lad_pgd: DefenceConfig = DefenceConfig()
    selection: SelectionConfig = SelectionConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    export: ExportConfig = ExportConfig()

    def __post_init__(self):
        check_recipe(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_SECTIONS = typing.get_type_hints(Recipe)


_DEFAULTS = Recipe()


def recipe_from_dict(raw: dict) -> Recipe:
    """Builds a Recipe from nested dicts, rejecting unknown keys by name."""
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _SECTIONS:
            raise LadError(f"invalid recipe: unknown key {key!r}; known keys: {sorted(_SECTIONS)}")
        section_type = _SECTIONS[key]
        if dataclasses.is_dataclass(section_type):
            if not isinstance(value, dict):
                raise LadError(f"invalid recipe: {key!r} must be an object. Received: {value!r}")
            known = {f.name: f for f in dataclasses.fields(section_type)}
            unknown = sorted(set(value) - set(known))
            if unknown:
                raise LadError(
                    f"invalid recipe: unknown key(s) {unknown} in {key!r}; known keys: {sorted(known)}"
                )
            fields = {k: tuple(v) if isinstance(v, list) and k != "model_args" else v
                      for k, v in value.items()}
            # Keys a recipe leaves out keep the defaults of this section.
            defaults = dataclasses.asdict(getattr(_DEFAULTS, key))
            kwargs[key] = section_type(**{**defaults, **fields})
        else:
            kwargs[key] = value
    try:
        return Recipe(**kwargs)
    except TypeError as exc:
        raise LadError(f"invalid recipe: {exc}") from None


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise LadError(f"--set expects section.key=value. Received: {text!r}")
    path, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value  # a bare string such as lenet
    return path.strip().split("."), parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Applies `section.key=value` overrides (values parsed as JSON) to a raw recipe."""
    raw = json.loads(json.dumps(raw))
    for text in overrides:
        keys, value = _parse_override(text)
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise LadError(f"--set {text!r}: {key!r} is not a section")
        node[keys[-1]] = value
    return raw


def available_recipes() -> list[str]:
    return sorted(p.parent.name for p in ZOO_DIR.glob("*/recipe.json"))


def read_recipe_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise LadError(f"recipe file {path} not found; pass an existing --recipe file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LadError(f"recipe file {path} is not valid JSON ({exc}); fix the file") from None


def load_recipe(dataset: str | None = None, recipe_path: str | None = None,
                overrides: list[str] | None = None) -> Recipe:
    """Resolves the recipe for a run.

    Args:
        dataset: a zoo entry name (`zoo/<dataset>/recipe.json`).
        recipe_path: an explicit recipe file; wins over `dataset`.
        overrides: `section.key=value` strings applied on top.
    """
    if recipe_path is None:
        path = ZOO_DIR / str(dataset) / "recipe.json"
        if not path.is_file():
            raise LadError(
                f"unknown dataset {dataset!r}; choose one of {available_recipes()} "
                "or pass --recipe FILE"
            )
    else:
        path = Path(recipe_path)
    raw = apply_overrides(read_recipe_file(path), overrides or [])
    return recipe_from_dict(raw)


__all__ = ["ATTACK_NAMES", "DEFENCE_SECTIONS", "METHOD_NAMES", "NEAREST_MEASURES", "SVM_TARGETS",
           "ZOO_DIR", "Recipe", "apply_overrides", "available_recipes", "load_recipe",
           "read_recipe_file", "recipe_from_dict"]
