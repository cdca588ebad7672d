"""The checks of a recipe (`lad_tf.recipe.schema.Recipe`), all in one place.

`check_recipe` runs when a `Recipe` is made; each failed check raises a
`LadError` that names the key, the allowed values and what it received.
TensorFlow-free, like `lad_tf.recipe.schema` and `lad_tf.recipe.names`.
"""

from __future__ import annotations

from lad_tf.recipe.names import (
    ATTACK_NAMES,
    CORRUPTION_NAMES,
    CORRUPTION_SOURCES,
    L2_ATTACKS,
    METHOD_NAMES,
    PER_IMAGE_THREATS,
    SPATIAL_GRID,
    THREAT_NAMES,
)
from lad_tf.utils.errors import LadError

SVM_TARGETS = ("auto", "all", "nearest")  # lad_tf.lad.targets
NEAREST_MEASURES = ("mean_distance", "confusion")
DEFENCE_SECTIONS = ("pgd_at", "trades", "fast_at", "lad_fast", "lad_pgd")


def _check(ok: bool, message: str):
    if not ok:
        raise LadError(f"invalid recipe: {message}")


def _positive_int_or_none(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


def _int_at_least(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_recipe(r) -> None:
    """Checks every section of the recipe `r`.

    Raises:
        LadError: "invalid recipe: ..." for the first value out of range.
    """
    _check_data(r)
    _check_training(r)
    _check_svm(r)
    _check_generation(r)
    _check_evaluation(r)
    _check_defences(r)
    _check_export(r)
    for key in ("per_class", "targeted_per_class"):
        value = getattr(r.baselines, key)
        _check(isinstance(value, int) and value >= 0, f"baselines.{key} must be an integer >= 0. Received: {value!r}")
    _check(all(e >= 0 for e in r.hardening.sweep_eps),
           f"hardening.sweep_eps must be eps values >= 0. Received: {r.hardening.sweep_eps}")


def _check_data(r):
    _check(0 < r.data.provider_fraction < 1,
           f"data.provider_fraction must be in (0, 1). Received: {r.data.provider_fraction}")
    for key in ("image_size", "channels", "max_images"):
        value = getattr(r.data, key)
        _check(_positive_int_or_none(value),
               f"data.{key} must be a positive integer or null. Received: {value!r}")
    _check(r.data.use_tfds in (None, True, False),
           f"data.use_tfds must be true, false or null. Received: {r.data.use_tfds!r}")
    _check(_int_at_least(r.svm.attention_rank, 0),
           f"svm.attention_rank must be an integer >= 0. Received: {r.svm.attention_rank!r}")


def _check_training(r):
    for name in ("classifier", "generator"):
        section = getattr(r, name)
        _check(section.precision in ("auto", "float32", "mixed_bfloat16"),
               f"{name}.precision must be auto, float32 or mixed_bfloat16. "
               f"Received: {section.precision}")
        _check(section.schedule in ("constant", "cosine"),
               f"{name}.schedule must be constant or cosine. Received: {section.schedule}")
    for section in (r.classifier, r.generator, r.hardening):
        _check(section.epochs >= 0, f"epochs must be >= 0. Received: {section.epochs}")
        _check(section.batch_size > 0, f"batch_size must be > 0. Received: {section.batch_size}")
    _check(r.generator.loss in ("l1", "l2"), f"generator.loss must be l1 or l2. Received: {r.generator.loss}")


def _check_svm(r):
    _check(r.svm.attention in ("softmax", "scaled_softmax", "exp_softmax"),
           "svm.attention must be softmax, scaled_softmax or exp_softmax. "
           f"Received: {r.svm.attention}")
    _check(r.svm.targets in SVM_TARGETS,
           f"svm.targets must be one of {SVM_TARGETS}. Received: {r.svm.targets!r}")
    _check(_int_at_least(r.svm.k, 1),
           f"svm.k must be an integer >= 1 (and below the number of classes). Received: {r.svm.k!r}")
    _check(r.svm.nearest_by in NEAREST_MEASURES,
           f"svm.nearest_by must be one of {NEAREST_MEASURES}. Received: {r.svm.nearest_by!r}")
    _check(0 < r.svm.holdout_fraction < 1,
           f"svm.holdout_fraction must be in (0, 1). Received: {r.svm.holdout_fraction}")
    _check(r.svm.per_class >= 3, f"svm.per_class must be >= 3. Received: {r.svm.per_class}")


def _check_generation(r):
    _check(r.generation.eps_unit in ("calibrated", "raw"),
           f"generation.eps_unit must be calibrated or raw. Received: {r.generation.eps_unit}")
    _check(len(r.generation.eps_sweep) > 0 and all(e >= 0 for e in r.generation.eps_sweep),
           f"generation.eps_sweep must be a non-empty list of eps >= 0. Received: {r.generation.eps_sweep}")
    _check(len(r.hardening.eps) > 0 and all(e >= 0 for e in r.hardening.eps),
           f"hardening.eps must be a non-empty list of eps >= 0. Received: {r.hardening.eps}")
    _check(0 <= r.hardening.alpha <= 1, f"hardening.alpha must be in [0, 1]. Received: {r.hardening.alpha}")
    _check(r.hardening.optimizer in ("sgd", "adam"),
           f"hardening.optimizer must be sgd or adam. Received: {r.hardening.optimizer}")


def _check_names(r):
    """Attack and method names against the one list of each (lad_tf.recipe.names)."""
    for key in ("attacks", "transfer_attacks", "robust_attacks"):
        unknown = sorted(set(getattr(r.evaluation, key)) - set(ATTACK_NAMES))
        _check(not unknown, f"evaluation.{key} names unknown attacks {unknown}; known: {sorted(ATTACK_NAMES)}")
    for section in (r.evaluation, r.baselines):
        unknown = sorted(set(section.attack_params) - set(ATTACK_NAMES))
        _check(not unknown and all(isinstance(v, dict) for v in section.attack_params.values()),
               f"attack_params must map attack names {sorted(ATTACK_NAMES)} to objects. "
               f"Received: {section.attack_params!r}")
    unknown = sorted(set(r.evaluation.reduced_methods) - set(METHOD_NAMES))
    _check(not unknown, f"evaluation.reduced_methods names unknown methods {unknown}; "
           f"known: {sorted(METHOD_NAMES)}")
    methods = list(r.hardening.methods)
    unknown = sorted(set(methods) - set(METHOD_NAMES))
    _check(methods and not unknown, f"hardening.methods must be a non-empty list of {sorted(METHOD_NAMES)}. "
           f"Received: {methods}")
    _check(len(set(methods)) == len(methods), f"hardening.methods lists a method twice: {methods}")


def _check_evaluation(r):
    _check(r.evaluation.per_class > 0, f"evaluation.per_class must be > 0. Received: {r.evaluation.per_class}")
    _check_names(r)
    for key in ("targeted_per_class", "lad_per_class", "diversity_per_class", "blackbox_epochs",
                "robust_per_class", "masking_per_class"):
        value = getattr(r.evaluation, key)
        _check(_int_at_least(value, 0),
               f"evaluation.{key} must be an integer >= 0. Received: {value!r}")
    robust = list(r.evaluation.robust_attacks)
    _check(not set(robust) & {"jsma", "cw"} and len(set(robust)) == len(robust),
           f"evaluation.robust_attacks must list untargeted attacks (not jsma, cw), each once. "
           f"Received: {robust}")
    masking_eps = r.evaluation.masking_eps
    _check(isinstance(masking_eps, (int, float)) and not isinstance(masking_eps, bool)
           and masking_eps > 0,
           f"evaluation.masking_eps must be a number > 0. Received: {masking_eps!r}")
    _check(_positive_int_or_none(r.evaluation.cw_per_class),
           f"evaluation.cw_per_class must be a positive integer or null. Received: {r.evaluation.cw_per_class!r}")
    check_threats(r.evaluation)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_threats(e) -> None:
    """The threat settings of an EvaluationConfig `e` (names, L2 eps, the
    spatial grid, corruptions, GA sizes)."""
    threats = list(e.threats)
    unknown = [t for t in threats if t not in THREAT_NAMES]
    _check(not unknown, f"evaluation.threats names unknown threats {unknown}; known: "
           f"{list(THREAT_NAMES)}")
    _check(len(set(threats)) == len(threats), f"evaluation.threats lists a threat twice: {threats}")
    _check("union" not in threats or set(threats) & set(PER_IMAGE_THREATS),
           f"evaluation.threats: union needs at least one of {list(PER_IMAGE_THREATS)} beside it. "
           f"Received: {threats}")
    _check(_number(e.l2_eps) and e.l2_eps > 0,
           f"evaluation.l2_eps must be a number > 0 (the L2 budget). Received: {e.l2_eps!r}")
    bad = sorted(set(e.l2_attack_params) - set(L2_ATTACKS))
    _check(not bad and all(isinstance(v, dict) for v in e.l2_attack_params.values()),
           f"evaluation.l2_attack_params must map {list(L2_ATTACKS)} to objects. "
           f"Received: {e.l2_attack_params!r}")
    _check(isinstance(e.spatial, dict) and not set(e.spatial) - set(SPATIAL_GRID),
           f"evaluation.spatial takes the keys {sorted(SPATIAL_GRID)}. Received: {e.spatial!r}")
    grid = {**SPATIAL_GRID, **e.spatial}
    for key in ("angles", "shifts"):
        _check(_int_at_least(grid[key], 1),
               f"evaluation.spatial.{key} must be an integer >= 1 (a grid with zero points "
               f"judges nothing). Received: {grid[key]!r}")
    for key in ("max_angle", "max_shift"):
        _check(_number(grid[key]) and grid[key] >= 0,
               f"evaluation.spatial.{key} must be a number >= 0. Received: {grid[key]!r}")
    unknown = [c for c in e.corruptions if c not in CORRUPTION_NAMES]
    _check(not unknown and (e.corruptions or "corruptions" not in threats),
           f"evaluation.corruptions must name some of {list(CORRUPTION_NAMES)}. "
           f"Received: {list(e.corruptions)}")
    _check(e.corruptions_source in CORRUPTION_SOURCES,
           f"evaluation.corruptions_source must be one of {list(CORRUPTION_SOURCES)}. "
           f"Received: {e.corruptions_source!r}")
    for key in ("ga_searches", "ga_steps"):
        value = getattr(e, key)
        _check(_int_at_least(value, 0), f"evaluation.{key} must be an integer >= 0. "
               f"Received: {value!r}")
    _check(e.ga_acgan is None or isinstance(e.ga_acgan, str),
           f"evaluation.ga_acgan must be a path or null. Received: {e.ga_acgan!r}")


def _check_defences(r):
    _check(0 <= r.data.validation_fraction < 1,
           f"data.validation_fraction must be in [0, 1). Received: {r.data.validation_fraction}")
    for name in DEFENCE_SECTIONS:
        d = getattr(r, name)
        for key in ("epochs", "batch_size", "steps"):
            _check(_int_at_least(getattr(d, key), int(key != "epochs")),
                   f"{name}.{key} must be an integer >= {int(key != 'epochs')}. "
                   f"Received: {getattr(d, key)!r}")
        _check(d.optimizer in ("adam", "sgd"), f"{name}.optimizer must be adam or sgd. Received: {d.optimizer!r}")
        _check(d.schedule in ("constant", "cosine"),
               f"{name}.schedule must be constant or cosine. Received: {d.schedule!r}")
        _check(0 <= d.alpha <= 1, f"{name}.alpha must be in [0, 1]. Received: {d.alpha}")
        _check(d.init in ("original", "scratch"),
               f"{name}.init must be original or scratch. Received: {d.init!r}")
        for key in ("eps", "eps_ramp_epochs", "step_size", "beta", "learning_rate"):
            _check(getattr(d, key) >= 0, f"{name}.{key} must be >= 0. Received: {getattr(d, key)}")
        _check(_positive_int_or_none(d.steps_per_epoch),
               f"{name}.steps_per_epoch must be a positive integer or null. Received: {d.steps_per_epoch!r}")
    s = r.selection
    for key in ("per_class", "pgd_steps", "patience"):
        value = getattr(s, key)
        _check(_int_at_least(value, 0),
               f"selection.{key} must be an integer >= 0. Received: {value!r}")
    _check(s.eps >= 0 and s.min_delta >= 0 and s.collapse_drop > 0,
           f"selection.eps and min_delta must be >= 0, collapse_drop > 0. Received: {s}")


def _check_export(r):
    """export.method names a model this run builds; the choice's budgets are sane."""
    e = r.export
    choices = ["auto", "original", *r.hardening.methods]
    if e.method not in choices:
        trained = ", ".join(r.hardening.methods) or "none"
        raise LadError(f"--export-method / export.method {e.method!r} is not a model this run "
                       f"builds (its defences: {trained}); choose one of {choices}, or add it "
                       f"with --method")
    _check(isinstance(e.max_clean_drop, (int, float)) and not isinstance(e.max_clean_drop, bool)
           and 0 <= e.max_clean_drop <= 100,
           f"export.max_clean_drop must be a number of percentage points in [0, 100]. "
           f"Received: {e.max_clean_drop!r}")
    _check(_int_at_least(e.per_class, 1),
           f"export.per_class must be an integer >= 1. Received: {e.per_class!r}")
    _check(isinstance(e.attack_params, dict) and set(e.attack_params) <= set(ATTACK_NAMES),
           f"export.attack_params must map attack names {list(ATTACK_NAMES)} to parameters. "
           f"Received: {e.attack_params!r}")
