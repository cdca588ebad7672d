"""Recipe overrides shared by the end-to-end tests: the LAD method only and the
cheapest evaluation (FGSM / PGD, no black-box CNN, no diversity, no Fig. 7 models,
no robust suite, a short export choice)."""

# The export choice (every model judged on validation) on 2 images per class, short attacks.
SHORT_EXPORT_CHOICE = [
    "--set", "export.per_class=2",
    "--set", 'export.attack_params={"apgd":{"max_iter":5},"apgd_t":{"max_iter":5},'
             '"square":{"max_iter":20},"pgd_restarts":{"nb_iter":5,"restarts":1}}',
]

LAD_ONLY_FAST_EVALUATION = [
    "--set", 'hardening.methods=["lad"]', "--set", "hardening.sweep_eps=[]",
    "--set", 'evaluation.attacks=["fgsm","pgd"]', "--set", "evaluation.transfer_attacks=[]",
    "--set", "evaluation.lad_per_class=1", "--set", "evaluation.diversity_per_class=0",
    "--set", "evaluation.robust_per_class=0", *SHORT_EXPORT_CHOICE,
]

# The tiny digits run that test_cli, test_resume and test_nearest_targets share
# (conftest.tiny_digits_run): six generator epochs, so test_resume can kill a
# run after two and resume it; SVMs and generation on each class's 3 nearest
# classes by the model's confusions (svm.targets=nearest, which test_nearest_targets
# checks end to end), and the diversity measure with a JSMA that may change 1% of
# the pixels.
TINY_DIGITS = [
    "--dataset", "digits", "--set", "classifier.epochs=2", "--set", "generator.epochs=6",
    "--set", "svm.epochs=3", "--set", "svm.per_class=9", "--set", "svm.targets=nearest",
    "--set", "svm.k=3", "--set", "svm.nearest_by=confusion", "--set", "generation.per_class=2",
    "--set", "generation.eps_sweep=[1.0,3.0]", "--set", "hardening.per_class=3",
    "--set", "hardening.epochs=1", "--set", "evaluation.per_class=3",
    "--set", "evaluation.pgd_iterations=5", *LAD_ONLY_FAST_EVALUATION,
    "--set", "evaluation.diversity_per_class=1",
    "--set", 'evaluation.attack_params={"jsma": {"gamma": 0.01}}',
]
