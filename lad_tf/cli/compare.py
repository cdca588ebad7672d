"""`python -m lad_tf.compare RUN_DIR:METHOD[=LABEL] ... --out OUT`: defences of several
evaluated runs in one table and one frontier picture (`lad_tf.evaluation.compare`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lad_tf.utils.errors import command
from lad_tf.utils.files import write_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lad_tf.compare",
        description="Defences of several evaluated runs in one table (OUT/comparison.md) and "
                    "one clean-vs-worst-case frontier (OUT/frontier.png). The runs must have "
                    "been evaluated with the same data split, robust suite and settings.")
    parser.add_argument("models", nargs="+", metavar="RUN_DIR:METHOD[=LABEL]",
                        help="a model of an evaluated run; METHOD 'original' for the "
                             "undefended classifier")
    parser.add_argument("--out", required=True, help="folder for comparison.md and frontier.png")
    parser.add_argument("--leaderboard", metavar="FILE.json",
                        help="also write the models as a zoo leaderboard (zoo/<dataset>/"
                             "leaderboard.json): one row each, named by its LABEL")
    return parser.parse_args(argv)


@command
def main(argv=None) -> int:
    """The command: 0 on success, 2 with one `error:` line on a LadError."""
    args = parse_args(argv)
    from lad_tf.evaluation.compare import (
        leaderboard_rows,
        merged_result,
        parse_column,
        write_comparison,  # TensorFlow loads here
    )

    columns = [parse_column(m) for m in args.models]
    result = write_comparison(columns, Path(args.out))
    if args.leaderboard:
        _, seconds = merged_result(columns)
        rows = leaderboard_rows(columns, result, seconds)
        write_json(Path(args.leaderboard), {"protocol": result.get("robust"), "models": rows})
        print(f"wrote {args.leaderboard} ({len(rows)} model(s))")
    print(f"wrote {Path(args.out) / 'comparison.md'} and {Path(args.out) / 'frontier.png'}")
    return 0
