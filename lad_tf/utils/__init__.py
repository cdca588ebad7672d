"""Helpers every layer may use; they import nothing else of lad_tf.

    errors        `LadError` and the `command` wrapper: one `error:` line, exit 2
    files         atomic writes, cache keys, weight hashes
    cache         the one keyed, atomic result cache (JSON and NPZ)
    monitoring    progress lines, TensorBoard summaries, PNG figures
    formatting    how numbers read in tables and log lines
    sampling      seeded, class-balanced subsets
    batching      fixed-shape batched inference
    traced        one traced inference function per model
    metrics       accuracy, accuracy under an attack, perturbation sizes
    precision     compute precision (`auto`: bfloat16 only where it is native)
    optimizers    the optimizer of a recipe section
    distribute    tf.distribute strategies for `harden --strategy`
    registration  registers the project's Keras classes once Keras is imported
"""
