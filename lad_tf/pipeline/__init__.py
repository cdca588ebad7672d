"""The run behind `python -m lad_tf.harden`: a table of stages.

    runner   `STAGE_TABLE`, `run_pipeline`, the last lines a run prints
    run      `Run`: what every stage reads (each stage's file: recipe.names.STAGE_ARTIFACTS)
    reuse    `--from-run`: a new run seeded with an earlier run's stages
    report   report.json and report.md
    stages/  one module per stage, named by the stage table
"""
