"""The evaluation's orchestrator: every model of a run meets every kind of
result (see `lad_tf.evaluation`), and the whole is written to
`<run>/evaluation.json`."""

from __future__ import annotations

import time
from pathlib import Path

from lad_tf.attacks.budget import attack_title, quick_settings
from lad_tf.evaluation import figures
from lad_tf.evaluation.choice import exported_method
from lad_tf.evaluation.context import EvaluationContext, load_model
from lad_tf.evaluation.costs import method_seconds, training_seconds
from lad_tf.evaluation.diversity import measure_diversity
from lad_tf.evaluation.lad_examples import (
    lad_accuracy,
    lad_test_sets,
    load_lad_pieces,
    sweep_models,
)
from lad_tf.evaluation.robust import evaluate_robust, suite_summary
from lad_tf.evaluation.samples import sample_sizes
from lad_tf.evaluation.threats import evaluate_threats, threats_summary
from lad_tf.evaluation.transfer import (
    blackbox_summary,
    craft_transfer_sets,
    train_blackbox,
    transfer_rows,
)
from lad_tf.evaluation.whitebox import clean_accuracy, evaluate_whitebox
from lad_tf.utils.errors import LadError
from lad_tf.utils.files import write_json


class RunEvaluation:
    """Evaluates the models of one run directory (see `lad_tf.evaluation`).

    Args:
        run_dir: a run of `python -m lad_tf.harden` (classifier.keras, and the
            files of the earlier stages).
        recipe: its resolved `Recipe`.
        data: its `DatasetSplits`.
        quick: evaluate on a few images (budget.QUICK), writing `evaluation-quick.json`.
        summaries: a `RunSummaries` for figures (PNG + TensorBoard), or None.
        log: print-like progress output.
        methods: the methods to evaluate beside the original; None: all of
            `hardening.methods`.
    """

    def __init__(self, run_dir: Path, recipe, data, quick: bool = False, summaries=None,
                 log=print, methods=None):
        self.run_dir, self.recipe, self.quick, self.summaries = Path(run_dir), recipe, quick, summaries
        self.methods = tuple(recipe.hardening.methods if methods is None else methods)
        cfg = quick_settings(recipe.evaluation) if quick else recipe.evaluation
        folder = self.run_dir / ("evaluation-quick" if quick else "evaluation")
        folder.mkdir(exist_ok=True)
        self.ctx = EvaluationContext(self.run_dir, recipe, data, cfg, folder, log)

    def model_files(self) -> dict[str, Path]:
        """original, then every method's model that exists, in recipe order
        (only `methods` where given)."""
        files = {"original": self.run_dir / "classifier.keras"}
        for method in (m for m in self.recipe.hardening.methods if m in self.methods):
            path = self.run_dir / "methods" / f"{method}.keras"
            if path.is_file():
                files[method] = path
        if not files["original"].is_file():
            raise LadError(f"{self.run_dir} has no classifier.keras; run `python -m lad_tf.harden "
                           f"--resume --run-dir {self.run_dir}` first")
        return files

    def evaluate_model(self, name: str, path: Path, transfer: dict, lad_sets: dict) -> dict:
        """Every result of one model.

        Args:
            name: "original" or a method; path: its `.keras` file.
            transfer: `transfer.craft_transfer_sets`'s examples ({} when none).
            lad_sets: `lad_examples.lad_test_sets`'s examples ({} when none).

        Returns:
            model_file, test_examples, clean_accuracy, `<attack>_accuracy`...,
            attack_examples, `transfer_<attack>_accuracy`..., lad_accuracy,
            the robust suite's numbers, and details (every row in full).
        """
        ctx, model = self.ctx, load_model(path)
        cache = ctx.cache(name, path)
        ctx.log(f"evaluate: {name} model")
        y_test = ctx.data.y_test
        result = {"model_file": str(path.relative_to(self.run_dir)),
                  "test_examples": int(len(y_test)),
                  "clean_accuracy": clean_accuracy(ctx, model, cache)}
        ctx.log(f"  clean accuracy {result['clean_accuracy']:.4f} on {len(y_test)} test images")
        white, details = evaluate_whitebox(ctx, name, model, cache)
        result.update(white)
        for attack, row in transfer_rows(model, transfer, y_test, cache).items():
            details[f"transfer_{attack}"] = row
            result[f"transfer_{attack}_accuracy"] = row["accuracy"]
            ctx.log(f"  transfer {attack} from the black-box CNN: accuracy {row['accuracy']:.4f}")
        if lad_sets:
            result["lad_accuracy"] = lad_accuracy(model, lad_sets, cache)
        linf = None
        if ctx.cfg.robust_per_class and "linf" in ctx.cfg.threats:
            result.update(evaluate_robust(ctx, name, model, cache))
            details["robust"] = result.pop("robust_details")
            linf = result.pop("robust_per_image")
        threats = evaluate_threats(ctx, name, model, path, linf)
        if threats:
            result["threats"] = threats
        result["details"] = details
        return result

    def transfer(self, result: dict) -> dict:
        """The black-box CNN's transfer sets (trained and crafted once), with
        its summary put into `result["blackbox"]`; {} when not configured."""
        ctx = self.ctx
        if not (ctx.cfg.transfer_attacks and ctx.cfg.blackbox_epochs > 0):
            return {}
        blackbox, meta = train_blackbox(ctx)
        ctx.log(f"  black-box CNN clean accuracy {meta['clean_accuracy']:.4f}")
        transfer = craft_transfer_sets(ctx, blackbox)
        result["blackbox"] = blackbox_summary(ctx, blackbox, meta, transfer)
        return transfer

    def header(self) -> dict:
        """What every evaluation.json starts with: quick, settings, samples,
        attack_titles and (with a robust suite) robust."""
        ctx, cfg = self.ctx, self.ctx.cfg
        result = {"quick": self.quick, "settings": ctx.settings(),
                  "samples": sample_sizes(cfg, ctx.data.y_test, ctx.num_classes),
                  "attack_titles": {a: attack_title(cfg, a) for a in  # recipe order, once each
                                    dict.fromkeys([*cfg.attacks, *cfg.transfer_attacks])}}
        if cfg.robust_per_class and "linf" in cfg.threats:
            result["robust"] = suite_summary(cfg, ctx.data.y_test, ctx.num_classes)
        if set(cfg.threats) - {"linf"}:
            result["threats"] = threats_summary(cfg, ctx.data)
        return result

    def run(self) -> dict:
        """Evaluates every model and writes `<run>/evaluation.json` (or
        evaluation-quick.json), plus Figs. 4 and 7 and the frontier when
        `summaries` is given.

        Returns:
            the result: header(), blackbox, models (name -> evaluate_model),
            sweep_models, diversity, seconds, and "original" / "hardened"
            (the exported model's row, named by "exported_method") under the
            names earlier reports used.
        """
        ctx, start = self.ctx, time.perf_counter()
        files = self.model_files()
        result = self.header()
        transfer = self.transfer(result)
        pieces = load_lad_pieces(self.run_dir)
        lad_sets = lad_test_sets(ctx, pieces)
        result["models"] = {name: self.evaluate_model(name, path, transfer, lad_sets)
                            for name, path in files.items()}
        result["sweep_models"] = sweep_models(ctx, lad_sets, transfer)
        result["diversity"], examples = measure_diversity(ctx, pieces)
        if self.summaries is not None:
            if examples is not None:
                figures.draw_examples_figure(self.summaries, examples, pieces[0])
            figures.draw_result_figures(
                self.summaries, result, ctx.curve_eps(), self.recipe.generation.eps_unit,
                training_seconds(method_seconds(self.run_dir)), bool(lad_sets))
        result["seconds"] = time.perf_counter() - start
        result["original"] = result["models"]["original"]
        exported = exported_method(self.run_dir, self.recipe)
        if exported in result["models"]:
            result["hardened"] = result["models"][exported]
            result["exported_method"] = exported
        write_json(self.run_dir / ("evaluation-quick.json" if self.quick else "evaluation.json"),
                   result)
        return result
