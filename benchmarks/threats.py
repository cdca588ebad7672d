"""`python -m benchmarks.threats`: models side by side under every threat,
and what each threat costs.

Issue 25 asks whether LAD (or LAD+PGD against PGD-AT) gains anywhere beyond
L-inf, and for the new threats on one LeNet and 1,000 images in <= 10 minutes
on this 2-core CPU. This command judges each `--model NAME=FILE.keras` with
the dataset card's protocol (`lad_tf.zoo.protocol.measure`: clean accuracy,
the L-inf robust suite) and the threats of `--threats` (default: all of
`lad_tf.recipe.names.THREAT_NAMES`; `lad_tf.evaluation.threats`), on the
card's class-balanced test images, and writes

    OUT/threats.json   per model: every number, and the seconds of each threat
    OUT/threats.md     the table (threats as rows, models as columns), the
                       corruptions one by one, and the seconds per threat
    OUT/threats.png    grouped bars: which model holds where

Results are cached per model and threat: a model file inside a run directory
(`RUN/classifier.keras`, `RUN/methods/NAME.keras`) uses that run's
`evaluation/` cache under the run's own name for it, so its L-inf suite,
measured before by `python -m lad_tf.evaluate` or `benchmarks.fast_robust`,
is read, not run again; other files cache in `runs/threats/<NAME>`.
Seconds are those of this run (a cached threat reports the seconds it
took when it ran).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

THREATS = ("linf", "l2", "spatial", "corruptions", "ga", "union")
BUDGET_SECONDS = 600.0  # issue 25: the new threats for one LeNet on 1,000 images


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threats",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FILE.keras",
                        required=True, help="a model to judge, titled NAME; repeatable")
    parser.add_argument("--dataset", default="mnist", help="the zoo dataset (default mnist)")
    parser.add_argument("--threats", default=",".join(THREATS), metavar="T[,T...]",
                        help=f"threats (default: all: {','.join(THREATS)})")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="evaluation.KEY=VALUE", help="override an evaluation setting")
    parser.add_argument("--data-dir", default=None, help="default: $LAD_DATA_DIR")
    parser.add_argument("--out", default="runs/threats", help="output folder")
    return parser.parse_args(argv)


def parse_models(specs: list[str]) -> list[tuple[str, Path]]:
    """[(name, file)] of "NAME=FILE.keras" strings.

    Raises:
        LadError: a spec without "=", a missing file, or a name given twice.
    """
    from lad_tf.utils.errors import LadError

    models = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise LadError(f"--model takes NAME=FILE.keras. Received: {spec!r}")
        if not Path(path).is_file():
            raise LadError(f"--model {name}: no file {path}; pass a saved .keras model")
        models.append((name.strip(), Path(path)))
    names = [n for n, _ in models]
    if len(set(names)) != len(names):
        raise LadError(f"--model names must differ. Received: {names}")
    return models


def cache_place(name: str, path: Path, out: Path) -> tuple[Path, str]:
    """(cache folder, cache name): a run's evaluation/ under the run's name for
    the model, else OUT/cache/NAME."""
    run = path.parent.parent if path.parent.name == "methods" else path.parent
    if (run / "recipe.json").is_file():
        return run / "evaluation", ("original" if path.name == "classifier.keras" else path.stem)
    return out / "cache" / name, "model"


def seconds_of(row: dict) -> dict:
    """Seconds per threat of one model's row (the L-inf suite's attacks summed)."""
    out = {}
    threats = row.get("threats", {})
    for threat, result in threats.items():
        if threat == "l2":
            out[threat] = sum(d.get("seconds", 0.0) for d in result["details"].values())
        elif threat == "corruptions":
            out[threat] = sum(r.get("seconds", 0.0) for r in result["per_corruption"].values())
        elif "seconds" in result:
            out[threat] = result["seconds"]
    out["beyond_linf"] = sum(out.values())
    return out


def markdown(result: dict, names: list[str], command: str, seconds: dict) -> str:
    from lad_tf.evaluation.threat_report import threat_section

    lines = threat_section(result, names, names)
    lines += ["", "Seconds per threat (wall time of this machine; cached threats: when they ran):",
              "", "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    keys = [k for k in ("l2", "spatial", "corruptions", "ga", "beyond_linf")
            if any(k in seconds[n] for n in names)]
    for k in keys:
        label = "all threats beyond L-inf" if k == "beyond_linf" else k
        lines.append(f"| {label} | " + " | ".join(
            f"{seconds[n][k]:.0f}" if k in seconds[n] else "-" for n in names) + " |")
    lines += ["", f"Made by `{command}`."]
    return "\n".join(lines).lstrip() + "\n"


def main(argv=None) -> int:
    from lad_tf.utils.errors import LadError, command

    @command
    def run(argv=None) -> int:
        args = parse_args(argv)
        from lad_tf.cli.evaluate import threat_override

        overrides = [*args.overrides, *threat_override(args.threats)]
        from lad_tf.recipe.schema import load_recipe

        recipe = load_recipe(args.dataset, None, overrides)  # checked before TensorFlow
        models = parse_models(args.model)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)

        import keras

        from benchmarks.fast_robust import machine
        from lad_tf.data import load_recipe_data
        from lad_tf.evaluation.threat_report import threats_figure
        from lad_tf.utils.files import write_json, write_text
        from lad_tf.utils.monitoring import log, save_png
        from lad_tf.zoo.protocol import evaluation_record, measure, wrap

        data = load_recipe_data(recipe.data, args.data_dir)
        rows, numbers, seconds = {}, {}, {}
        for name, path in models:
            start = time.perf_counter()
            try:
                model = keras.models.load_model(path)
            except Exception as exc:  # noqa: BLE001  (Keras raises many types for a bad file)
                raise LadError(f"cannot load {path} as a Keras model ({type(exc).__name__})") \
                    from None
            folder, cache_name = cache_place(name, path, out)
            log(f"threats: {name} ({path}), cache {folder}/{cache_name}")
            logits = wrap(model, data.image_shape, data.num_classes, log)
            numbers[name], rows[name] = measure(logits, cache_name, path, recipe, data, folder, log)
            seconds[name] = {**seconds_of(rows[name]), "this_run": time.perf_counter() - start}
        names = [n for n, _ in models]
        record = evaluation_record(recipe, data, names[0], rows[names[0]])
        record["models"] = rows
        command_line = "python -m benchmarks.threats " + " ".join(
            [f"--model '{n}={p}'" for n, p in models] + [f"--set '{o}'" for o in args.overrides]
            + ([f"--threats {args.threats}"] if args.threats != ",".join(THREATS) else [])
            + ([f"--dataset {args.dataset}"] if args.dataset != "mnist" else [])
            + [f"--out {out}"])
        write_json(out / "threats.json", {
            "command": command_line, "machine": machine(), "budget_seconds": BUDGET_SECONDS,
            "seconds": seconds, "numbers": numbers, "threats": record.get("threats"),
            "robust": record["robust"], "models": rows})
        write_text(out / "threats.md", markdown(record, names, command_line, seconds))
        if any(r.get("threats") for r in rows.values()):
            save_png(threats_figure(record, names, names), out / "threats.png", scale=1)
        for n in names:
            spent = seconds[n]["beyond_linf"]
            log(f"threats: {n}: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds[n].items())
                + f"; beyond L-inf {spent:.0f} s of the {BUDGET_SECONDS:.0f} s budget "
                f"({spent / BUDGET_SECONDS:.2f}x)")
        log(f"threats: {out / 'threats.md'}, {out / 'threats.png'}, {out / 'threats.json'}")
        return 0

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())

