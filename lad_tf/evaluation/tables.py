"""Markdown tables of an evaluation result (`robustness.md`, the run report).

`render_tables(result)` is the whole robustness section: methods x attacks
(with the robust suite's worst case and masking checks), transfer, the
models fine-tuned per eps, diversity, and for MNIST the paper's Tables II-IV
beside this run's numbers.
"""

from __future__ import annotations

from lad_tf.attacks import ATTACKS
from lad_tf.defences import title
from lad_tf.evaluation import robust_tables
from lad_tf.evaluation.costs import LAD_SETUP
from lad_tf.evaluation.paper import mnist_tables
from lad_tf.evaluation.threat_report import threat_section
from lad_tf.utils.formatting import pct

GA_NOTE = ("GA (Song et al. 2018), the paper's latent-space baseline attack, needs an AC-GAN "
           "and runs outside this report: `python -m lad_tf.ga_study RUN_DIR --acgan FILE` "
           "writes its Table III and IV rows, GA against every model and the label-keeping "
           "judge's rates into RUN_DIR/ga/report.md.")


def method_title(name: str) -> str:
    """A model's column title: the method's title, else its name ("original")."""
    return title(name)


def _row(label: str, cells) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _intro(result: dict) -> list[str]:
    """The table's heading and the sentence on its sample sizes."""
    s, samples = result["settings"], result["samples"]
    targeted = [(a, n) for a, n in samples.items() if a != "untargeted"]
    return ["### White-box and transfer accuracy, every method", "",
            f"Untargeted attacks: {samples['untargeted']} test images "
            f"({s['per_class']} per class). "
            + (("Targeted attacks: " + ", ".join(f"{a} {n} examples" for a, n in targeted)
                + " (images x every other class as target). ") if targeted else "")
            + "Clean accuracy: the whole test split.", ""]


def attack_rows(result: dict, names: list[str]) -> list[str]:
    """Clean, every white-box attack (and its target rate), every transfer attack."""
    models, titles, s = result["models"], result.get("attack_titles", {}), result["settings"]

    def cell(n, key):  # methods in evaluation.reduced_methods skip most attacks
        return pct(models[n][key]) if key in models[n] else "not run"

    lines = [_row("clean", (pct(models[n]["clean_accuracy"]) for n in names))]
    for a in s["attacks"]:
        if not any(f"{a}_accuracy" in models[n] for n in names):
            continue  # e.g. a model measured by the robust suite only (benchmarks.fast_robust)
        lines.append(_row(titles[a], (cell(n, f"{a}_accuracy") for n in names)))
        if ATTACKS[a].targeted:
            lines.append(_row(f"{a} target reached",
                              (cell(n, f"{a}_target_success") for n in names)))
    for a in s["transfer_attacks"]:
        if any(f"transfer_{a}_accuracy" in models[n] for n in names):
            lines.append(_row(f"transfer {titles[a]} from black-box CNN",
                              (pct(models[n].get(f"transfer_{a}_accuracy")) for n in names)))
    return lines


def _cost_and_lad_rows(result: dict, names: list[str], method_seconds: dict | None) -> list[str]:
    """The hardening wall time row and one row per LAD test set eps."""
    models, lines = result["models"], []
    if method_seconds:
        lines.append(_row("hardening wall time", (
            "-" if n == "original" else (f"{method_seconds[n]:.0f} s" if n in method_seconds
                                         else "n/a") for n in names)))
    lad_eps = sorted({e for n in names for e in models[n].get("lad_accuracy", {})}, key=float)
    for e in lad_eps:
        lines.append(_row(f"LAD examples from test images, eps {e}",
                          (pct(models[n].get("lad_accuracy", {}).get(e)) for n in names)))
    return lines


def _notes(result: dict, method_seconds: dict | None) -> list[str]:
    """The paragraphs under the table: GA, LAD's set-up time, the black-box CNN."""
    lines = ["", GA_NOTE]
    setup = (method_seconds or {}).get(LAD_SETUP)
    if setup:
        lines += ["", f"Hardening wall time counts crafting and fine-tuning. LAD and LAD+PGD also "
                      f"need the generator, the SVMs and the generation stage: {setup:.0f} s more, "
                      "once per run."]
    bb = result.get("blackbox")
    if bb:
        lines += ["", f"Black-box CNN (`{bb['model']}`, {bb['parameters']} parameters, trained on "
                      f"the training split): clean accuracy {pct(bb['clean_accuracy'])}; on its own "
                      "examples: " + ", ".join(f"{a} {pct(bb[f'{a}_accuracy'])}"
                                               for a in result["settings"]["transfer_attacks"]
                                               if f"{a}_accuracy" in bb) + "."]
    return lines


def _sweep_table(result: dict) -> list[str]:
    """Fig. 7's models, fine-tuned at one eps each: clean and LAD-example accuracy."""
    if not result.get("sweep_models"):
        return []
    lines = ["", "### Fine-tuned at one eps (Fig. 7)", "", "| eps | clean | LAD examples |",
             "|---|---|---|"]
    for e, row in result["sweep_models"].items():
        lines.append(f"| {e} | {pct(row['clean_accuracy'])} | {pct(row.get('lad_accuracy'))} |")
    return lines


def _diversity_table(result: dict) -> list[str]:
    """LAD, FGSM and JSMA examples of the same images: distances and label counts."""
    div = result.get("diversity")
    if not div:
        return []
    lines = ["", f"### Diversity of generated examples ({div['sources']} provider images)", "",
             "| method | examples per image | mean pairwise L2 | mean L2 to the image | "
             "distinct predicted labels per image | distinct label paths |",
             "|---|---|---|---|---|---|"]
    for m in ("LAD", "FGSM", "JSMA"):
        d = div[m]
        paths = (f"{d['distinct_label_paths']} of {d['label_paths']}"
                 if "distinct_label_paths" in d else "n/a")
        lines.append(f"| {m} | {d['examples_per_source']:.0f} | {d['mean_pairwise_l2']:.2f} | "
                     f"{d['mean_l2_to_source']:.2f} | {d['distinct_labels_per_source']:.2f} | "
                     f"{paths} |")
    return lines + ["", f"LAD: every target at eps {div['eps']}; FGSM: eps {div['fgsm_eps']}; "
                        "JSMA: every other class as target. A label path is the sequence of "
                        "predicted labels along eps for one image (and target)."]


def render_tables(result: dict, method_seconds: dict | None = None, dataset: str = "") -> str:
    """Markdown tables of an evaluation result.

    Args:
        result: evaluation.json's content (models, settings, samples,
            attack_titles; robust, blackbox, sweep_models, diversity where run).
        method_seconds: `costs.method_seconds` of the run, or None (no wall time row).
        dataset: the recipe's dataset; "mnist" adds the paper's Tables II-IV.

    Returns:
        the Markdown text, ending in a newline.
    """
    names = list(result["models"])
    lines = _intro(result) + ["| | " + " | ".join(method_title(n) for n in names) + " |",
                              "|---|" + "---|" * len(names)]
    lines += attack_rows(result, names)
    lines += robust_tables.table_rows(result, names)
    lines += _cost_and_lad_rows(result, names, method_seconds)
    lines += robust_tables.notes(result, names, method_title)
    lines += _notes(result, method_seconds)
    lines += threat_section(result, names, [method_title(n) for n in names])
    lines += _sweep_table(result) + _diversity_table(result)
    text = "\n".join(lines) + "\n"
    if dataset == "mnist" and "original" in result["models"]:
        text += "\n" + mnist_tables(result)
    return text
