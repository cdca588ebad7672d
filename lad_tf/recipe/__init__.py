"""The recipe of a run, TensorFlow-free: what may be named, what a recipe
holds, what it must satisfy, and how its per-class counts fit the data.

    names    the names a recipe or a command line may use (stages, attacks, methods)
    schema   `Recipe` and its sections, loading, `--set` overrides
    checks   every check of a recipe, one `error:` line each
    fit      per-class counts against the data's classes
"""
