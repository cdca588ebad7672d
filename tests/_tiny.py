"""Recipe overrides shared by the end-to-end tests: the LAD method only and the
cheapest evaluation (FGSM / PGD, no black-box CNN, no diversity, no Fig. 7 models,
no robust suite)."""

LAD_ONLY_FAST_EVALUATION = [
    "--set", 'hardening.methods=["lad"]', "--set", "hardening.sweep_eps=[]",
    "--set", 'evaluation.attacks=["fgsm","pgd"]', "--set", "evaluation.transfer_attacks=[]",
    "--set", "evaluation.lad_per_class=1", "--set", "evaluation.diversity_per_class=0",
    "--set", "evaluation.robust_per_class=0",
]
