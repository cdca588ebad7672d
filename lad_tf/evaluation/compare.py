"""`python -m lad_tf.compare`: defences of several runs in one table and one
frontier picture.

A defence trained to convergence and a LAD hybrid trained in a time budget
often live in different run directories (`harden --from-run` makes one run
per budget). This module reads each run's `evaluation.json`, checks that the
runs were judged alike (same data split, same robust sample and suite, same
white-box settings), and writes

    OUT/comparison.md   clean, each white-box attack, each transfer attack,
                        each robust-suite attack, the worst case, the masking
                        checks and the training seconds, one column per model;
    OUT/frontier.png    clean against worst-case accuracy, marker area the
                        training seconds (`figures.frontier_figure`).

Nothing is evaluated here: a model without a robust-suite result in its run's
`evaluation.json` is an error that names the `evaluate` command to run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lad_tf.evaluation import robust_tables
from lad_tf.evaluation.costs import method_seconds, training_seconds
from lad_tf.evaluation.figures import frontier_figure
from lad_tf.evaluation.tables import attack_rows, method_title
from lad_tf.evaluation.threat_report import has_threats, threat_section, threats_figure
from lad_tf.runs.run_dir import RunDir
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_text
from lad_tf.utils.formatting import pct
from lad_tf.utils.monitoring import save_png

# evaluation.settings that decide which images each attack sees and how hard it
# pushes; two runs differing in any of them are not in one table.
SAME_SETTINGS = ("per_class", "fgsm_eps", "pgd_eps", "pgd_step", "pgd_iterations", "seed",
                 "blackbox_model", "blackbox_epochs", "robust_per_class", "masking_per_class")


@dataclass(frozen=True)
class Column:
    """One model of the comparison: `run_dir`'s model `method` titled `label`."""

    run_dir: Path
    method: str
    label: str


def parse_column(text: str) -> Column:
    """"RUN_DIR:METHOD[=LABEL]" (METHOD "original" for the undefended model)."""
    spec, _, label = text.partition("=")
    run, sep, method = spec.rpartition(":")
    if not sep or not run or not method:
        raise LadError(f"a model is RUN_DIR:METHOD[=LABEL], e.g. runs/mnist:pgd-at=PGD-AT. "
                       f"Received: {text!r}")
    return Column(Path(run), method, label or f"{method_title(method)} ({Path(run).name})")


def _read_run(run_dir: Path) -> dict:
    if not (run_dir / "evaluation.json").is_file():
        raise LadError(f"{run_dir} has no evaluation.json; run `python -m lad_tf.evaluate "
                       f"{run_dir}` first, or pass a run directory that was evaluated")
    run = RunDir(run_dir, "its data split is unknown; pass the run directory that "
                          "`python -m lad_tf.harden` wrote")
    result = run.read_json("evaluation.json")
    result["data"] = run.recipe_dict().get("data", {})
    result["training_seconds"] = _training_seconds(run_dir)  # read once per run
    return result


def _training_seconds(run_dir: Path) -> dict:
    """method -> training seconds of the run (`costs`); "original": its classifier's."""
    seconds = training_seconds(method_seconds(run_dir))
    path = run_dir / "metrics" / "classifier.json"
    seconds["original"] = (float(json.loads(path.read_text()).get("seconds", 0.0))
                           if path.is_file() else 0.0)
    return seconds


def _difference(what: str, a, b):
    """(path, a's value, b's value) of the first place where a and b differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = _difference(f"{what}.{key}", a.get(key), b.get(key))
            if found:
                return found
        return None
    return None if a == b else (what, a, b)


def _check_alike(first: Column, base: dict, col: Column, result: dict):
    """Raises a LadError naming the first setting in which `col`'s run differs."""
    found = (_difference("recipe data", base["data"], result["data"])
             or _difference("robust suite", base.get("robust"), result.get("robust")))
    a, b = base.get("threats") or {}, result.get("threats") or {}
    for threat in sorted(set(a) & set(b) - {"threats", "titles"}):  # both judged it: alike?
        found = found or _difference(f"threats {threat}", a[threat], b[threat])
    for key in SAME_SETTINGS:
        found = found or _difference(f"evaluation.{key}", base["settings"].get(key),
                                     result["settings"].get(key))
    if found:
        what, a, b = found
        raise LadError(f"{col.run_dir} and {first.run_dir} were evaluated differently "
                       f"({what}: {b!r} against {a!r}), so their numbers are not comparable; "
                       "evaluate both with the same settings (`python -m lad_tf.evaluate "
                       "RUN_DIR --set evaluation.KEY=VALUE`)")


def merged_result(columns: list[Column]) -> tuple[dict, dict]:
    """One evaluation result whose models are the columns, keyed by label,
    and label -> training seconds (hardening plus LAD's set-up stages; the
    original: its classifier's training).

    Raises:
        LadError: a run without evaluation.json, runs evaluated differently, a
            model missing from its run's result or without a robust-suite result,
            or two columns with one label.
    """
    if not columns:
        raise LadError("name at least one model: RUN_DIR:METHOD[=LABEL]")
    labels = [c.label for c in columns]
    if len(set(labels)) != len(labels):
        raise LadError(f"two models have the same label ({labels}); give each its own "
                       "with RUN_DIR:METHOD=LABEL")
    results = {c.run_dir: _read_run(c.run_dir) for c in columns}
    base = results[columns[0].run_dir]
    models, seconds = {}, {}
    for col in columns:
        result = results[col.run_dir]
        _check_alike(columns[0], base, col, result)
        row = result["models"].get(col.method)
        if row is None or "robust_accuracy" not in row:
            raise LadError(f"{col.run_dir}'s evaluation.json has no robust-suite result for "
                           f"{col.method!r} (it has {sorted(result['models'])}); run `python -m "
                           f"lad_tf.evaluate {col.run_dir} --method {col.method}` with "
                           "evaluation.robust_per_class > 0")
        models[col.label] = row
        seconds[col.label] = float(result["training_seconds"].get(col.method, 0.0))
    return {**base, "models": models}, seconds


def comparison_markdown(columns: list[Column], result: dict, seconds: dict) -> str:
    """The table of `merged_result` with a line naming each column's source."""
    labels = [c.label for c in columns]
    lines = ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    lines += attack_rows(result, labels)
    lines += robust_tables.table_rows(result, labels)
    lines.append("| training seconds (LAD methods: with the generator, SVMs and generation) | "
                 + " | ".join(f"{seconds[n]:.0f}" for n in labels) + " |")
    lines += robust_tables.notes(result, labels)
    lines += threat_section(result, labels, labels)
    lines += ["", "Models: " + "; ".join(f"{c.label} = `{c.run_dir}` `{c.method}`"
                                         for c in columns) + ". The original's seconds are its "
              "classifier's training. Worst case per model: "
              + ", ".join(f"{n} {pct(result['models'][n]['robust_accuracy'])}" for n in labels)
              + "."]
    return "\n".join(lines) + "\n"


def write_comparison(columns: list[Column], out_dir: Path) -> dict:
    """Writes OUT/comparison.md and OUT/frontier.png; returns the merged result."""
    result, seconds = merged_result(columns)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "comparison.md", comparison_markdown(columns, result, seconds))
    points = [(c.label, float(result["models"][c.label]["clean_accuracy"]),
               float(result["models"][c.label]["robust_accuracy"]), seconds[c.label])
              for c in columns]
    save_png(frontier_figure(points), out_dir / "frontier.png", scale=1)
    labels = [c.label for c in columns]
    if has_threats(result, labels):
        save_png(threats_figure(result, labels, labels), out_dir / "threats.png", scale=1)
    return result


def _recorded(run_dir: Path) -> dict:
    """What made a run's models: `command` and `code_version` from
    metrics/harden.json, else from benchmark.json (`benchmarks.fast_robust`),
    else the commands `python -m lad_tf.harden` recorded (commands.json);
    the code version defaults to the one writing the leaderboard."""
    from lad_tf.utils.provenance import code_version  # lazy: TensorFlow

    made = {"command": RunDir(run_dir).made_by()}
    for path in (run_dir / "benchmark.json", run_dir / "metrics" / "harden.json"):
        if path.is_file():
            made.update({k: v for k, v in json.loads(path.read_text()).items()
                         if k in ("command", "code_version") and v})
    made.setdefault("code_version", code_version())
    return made


def leaderboard_rows(columns: list[Column], result: dict, seconds: dict) -> list[dict]:
    """One leaderboard row per column (RobustBench's fields where they apply):
    name (the label), architecture (and its model_args), dataset (and the run's
    data section, which fixes the test split), threat_model, eps, clean_acc (the
    whole test split), worst_case_acc with its attacks and images, the masking
    checks, reported (null: the paper reports no such row), training_seconds,
    command and code_version (what the run recorded, else null)."""
    suite = result.get("robust") or {}
    rows = []
    for col in columns:
        row = result["models"][col.label]
        recipe = RunDir(col.run_dir).recipe_dict()
        made = _recorded(col.run_dir)
        rows.append({
            "name": col.label, "architecture": recipe.get("classifier", {}).get("model"),
            "architecture_args": recipe.get("classifier", {}).get("model_args") or {},
            "dataset": recipe.get("data", {}).get("dataset"), "threat_model": "Linf",
            "data": recipe.get("data", {}),  # the split: the test images it was judged on
            "eps": suite.get("eps"), "clean_acc": row["clean_accuracy"],
            "clean_images": row.get("test_examples"),
            "worst_case_acc": row["robust_accuracy"], "worst_case_images": row["robust_examples"],
            "suite_images_clean_acc": row.get("robust_clean_accuracy"),
            "attacks": {suite["titles"][a]: row.get(f"robust_{a}_accuracy")
                        for a in suite.get("attacks", [])},
            "masking_checks": {k: v["status"] for k, v in row.get("masking_checks", {}).items()},
            "reported": None, "training_seconds": seconds[col.label],
            "command": made.get("command"), "code_version": made.get("code_version"),
            "source": f"{col.run_dir.name}:{col.method}"})
    return rows
