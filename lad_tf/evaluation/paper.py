"""The paper's MNIST numbers (Zhou et al., Tables II-IV) next to a run's.

Only numbers printed in the paper are stored here; the run's side is read
from its evaluation result, so every table row pairs a quoted number with a
measured one.
"""

from __future__ import annotations

from lad_tf.defences import DEFENCES as METHODS
from lad_tf.utils.formatting import pct

# Table II: accuracy on white-box adversarial sets against LeNet (original, Adv. LeNet).
TABLE_II = {"fgsm": (0.0177, 0.2167), "jsma": (0.0871, 0.3989), "pgd": (0.006, 0.0944),
            "cw": (0.9814, 0.9848)}
# Table III: accuracy on sets crafted on the unknown "black CNN" (original, FT-0.1 LeNet).
TABLE_III = {"fgsm": (0.4171, 0.4960), "jsma": (0.9391, 0.9244), "pgd": (0.2993, 0.3593),
             "ga": (0.9982, 0.9972), "cw": (0.9912, 0.9938)}
# Table IV: clean test accuracy of LeNet fine-tuned on each attack's examples.
TABLE_IV = {"original": 0.9913, "fgsm-ft": 0.9357, "jsma-ft": 0.9571, "pgd-ft": 0.9098,
            "cw-ft": 0.9871, "ga-ft": 0.9723, "lad": 0.9934}

ROW_NAMES = {"fgsm": "FGSM", "jsma": "JSMA", "pgd": "PGD", "cw": "CW", "ga": "GA"}
EXTRA = ("pgd-at", "trades", "fast-at", "fgsm-ft", "lad+fast", "lad+pgd")  # standard defences


def mnist_tables(result: dict) -> str:
    """Markdown: Tables II, III and IV, the paper's number beside this run's."""
    models = result["models"]
    titles = result["attack_titles"]
    extra = [m for m in EXTRA if m in models]
    lines = ["### Paper Table II: white-box attacks on LeNet", "",
             "| adversarial set | paper: original | ours: original | paper: Adv. LeNet | ours: LAD | "
             + "".join(f"{c} | " for c in (f"ours: {METHODS[m].title}" for m in extra)),
             "|---|---|---|---|---|" + "---|" * len(extra)]
    for attack, (p_orig, p_lad) in TABLE_II.items():
        key = f"{attack}_accuracy"
        lines.append(f"| {titles.get(attack, attack)} | {pct(p_orig)} | "
                     f"{pct(models['original'].get(key))} | {pct(p_lad)} | "
                     f"{pct(models.get('lad', {}).get(key))} | "
                     + "".join(f"{c} | " for c in (pct(models[m].get(key)) for m in extra)))
    sweep = result.get("sweep_models", {})
    ft = min(sweep, key=float) if sweep else None
    lines += ["", "### Paper Table III: unknown attacks, crafted on the black-box CNN", "",
              "| adversarial set | paper: original | ours: original | paper: FT-0.1 | "
              + (f"ours: FT-{ft} | " if ft else "") + "ours: LAD | "
              + "".join(f"{c} | " for c in (f"ours: {METHODS[m].title}" for m in extra)),
              "|---|---|---|---|" + ("---|" if ft else "") + "---|" + "---|" * len(extra)]
    for attack, (p_orig, p_ft) in TABLE_III.items():
        key = f"transfer_{attack}_accuracy"
        if attack == "ga":
            cells = ["ga/report.md"] * (2 + bool(ft) + len(extra))  # lad_tf.studies.ga.study
            lines.append(f"| GA | {pct(p_orig)} | {cells[0]} | {pct(p_ft)} | "
                         + " | ".join(cells[1:]) + " |")
            continue
        ft_cell = f"{pct(sweep[ft].get(key))} | " if ft else ""
        lines.append(f"| {titles.get(attack, ROW_NAMES[attack])} | {pct(p_orig)} | "
                     f"{pct(models['original'].get(key))} | {pct(p_ft)} | {ft_cell}"
                     f"{pct(models.get('lad', {}).get(key))} | "
                     + "".join(f"{c} | " for c in (pct(models[m].get(key)) for m in extra)))
    lines += ["", "### Paper Table IV: clean test accuracy after fine-tuning", "",
              "| model | paper | ours |", "|---|---|---|"]
    for name, paper in TABLE_IV.items():
        title = "original" if name == "original" else (
            "GA-FT" if name == "ga-ft" else METHODS[name].title)
        ours = ("ga/report.md" if name == "ga-ft" else
                pct(models[name]["clean_accuracy"]) if name in models else "not run")
        lines.append(f"| {title} | {pct(paper)} | {ours} |")
    for name in ("pgd-at", "trades", "fast-at", "lad+fast", "lad+pgd"):
        if name in models:
            lines.append(f"| {METHODS[name].title} | - | {pct(models[name]['clean_accuracy'])} |")
    return "\n".join(lines) + "\n"
