"""lad_tf.evaluate: the command module keeps the names earlier code imported
from it, and the registries match the names a recipe may use."""

import lad_tf.cli.evaluate as evaluate


def test_registries_match_the_names_a_recipe_may_use():
    from lad_tf.attacks import ATTACKS, NOT_IN_RECIPES
    from lad_tf.defences import DEFENCES as METHODS
    from lad_tf.recipe.schema import ATTACK_NAMES, METHOD_NAMES

    assert NOT_IN_RECIPES == {"ga", "ga_t"}  # GA needs a trained AC-GAN (issue 11)
    assert tuple(n for n in ATTACKS if n not in NOT_IN_RECIPES) == ATTACK_NAMES
    assert tuple(METHODS) == METHOD_NAMES


def test_command_line_options():
    args = evaluate.parse_args(["runs/x", "--quick", "--set", "evaluation.cw_per_class=5",
                                "--method", "lad,pgd-at", "--data-dir", "d"])
    assert (args.run_dir, args.quick, args.overrides, args.method, args.data_dir) == (
        "runs/x", True, ["evaluation.cw_per_class=5"], "lad,pgd-at", "d")
    assert evaluate.parse_args(["r"]).overrides == [] and evaluate.parse_args(["r"]).method is None
