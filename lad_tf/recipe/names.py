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
