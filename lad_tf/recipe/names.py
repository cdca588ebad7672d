"""The names a recipe or a command line may use: one list of each, TensorFlow-free.

`lad_tf.recipe.schema` checks recipes against these before TensorFlow is imported;
the registries (`lad_tf.attacks.ATTACKS`, `lad_tf.defences.DEFENCES`) and the
pipeline's stage table are keyed by the same names.
"""

# The pipeline's stages, in order: data -> classifier -> generator -> attention
# SVMs -> generation -> hardening (the defences) -> evaluation -> export; each
# with the file whose presence (with metrics/<stage>.json) marks it done. The one
# list of stages: `lad_tf.pipeline.runner.STAGE_TABLE` wires a function to each.
STAGE_ARTIFACTS = {
    "classifier": "classifier.keras",
    "generator": "generator.keras",
    "svm": "svm.keras",
    "generate": "generated.npz",
    "harden": "hardened.keras",
    "evaluate": "evaluation.json",
    "export": "export.json",
}
STAGES = tuple(STAGE_ARTIFACTS)

# Attacks a recipe may name (GA is not one: it needs a trained AC-GAN).
ATTACK_NAMES = ("fgsm", "pgd", "bim", "mim", "jsma", "cw", "apgd", "square", "apgd_t",
                "pgd_restarts")

# Hardening methods (defences), in the order reports list them.
METHOD_NAMES = ("lad", "fgsm-ft", "pgd-ft", "jsma-ft", "cw-ft", "pgd-at", "trades", "fast-at",
                "lad+fast", "lad+pgd")

# The adversarial-training methods and the recipe section holding their
# budget (and L-inf training eps); the others train with `hardening`'s.
TRAINING_SECTIONS = {"pgd-at": "pgd_at", "trades": "trades", "fast-at": "fast_at",
                     "lad+fast": "lad_fast", "lad+pgd": "lad_pgd"}

# Where a command takes a method name, this one names the undefended classifier.
ORIGINAL = "original"

# Threats the evaluation judges a model under (`evaluation.threats`,
# lad_tf.evaluation.threats): L-inf is the robust suite; union is, per image,
# correct under every per-image threat the list names.
THREAT_NAMES = ("linf", "l2", "spatial", "corruptions", "ga", "union")
CORRUPTION_SOURCES = ("auto", "generated", "tfds")  # evaluation.corruptions_source
PER_IMAGE_THREATS = ("linf", "l2", "spatial", "corruptions")  # GA makes its own images

# The 15 MNIST-C corruptions (Mu & Gilmer 2019), lad_tf.attacks.corruptions.
CORRUPTION_NAMES = ("shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale",
                    "rotate", "brightness", "translate", "stripe", "fog", "spatter",
                    "dotted_line", "zigzag", "canny_edges")

# The spatial grid (Engstrom et al. 2019's MNIST grid: 31 x 5 x 5 = 775 transforms).
SPATIAL_GRID = {"max_angle": 30.0, "angles": 31, "max_shift": 3.0, "shifts": 5}

# The L2 suite's attacks (over evaluation.l2_attack_params) and check (c)'s PGD-40.
L2_ATTACKS = ("apgd", "apgd_t", "square", "pgd_restarts", "pgd")
