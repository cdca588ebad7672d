"""The stages of one LAD run, one module per stage, named by the stage table
(`lad_tf.recipe.names.STAGES`), in the order data flows:

    data.py           the run's data and fixed inputs (`open_run` -> `Run`)
    classifier.py     1. the original classifier f = f_p(phi(x))   -> classifier.keras
    generator.py      2. the generator G of Eq. 2                  -> generator.keras
    svm.py            3. the attention SVMs (Sec. III-B)           -> svm.keras
    generate.py       4. boundary-guided generation                -> generated.npz
    harden.py         5. the defences (lad_tf.defences)            -> hardened.keras, methods/
    evaluate.py       6. robustness on the test split              -> evaluation.json
    export.py         7. the TF Serving SavedModel                 -> export.json
    figures.py        the figures of stages 2 and 4, drawn from their artifacts

Each stage is a function of the `Run` (`lad_tf.pipeline.run`) and the models earlier stages
made, returning (metrics, outputs); `lad_tf.pipeline.runner.STAGE_TABLE` wires them.
"""
