"""Robustness evaluation of a run: `python -m lad_tf.evaluate RUN_DIR`.

Also the `evaluate` stage of `python -m lad_tf.harden`. For the original
model and every defended model of the run (`hardening.methods`):

- clean accuracy on the whole test split;
- white-box accuracy under every attack of `evaluation.attacks`, crafted
  against the model under test: untargeted attacks on `per_class` test images
  of every class, targeted ones (JSMA, C&W) on `targeted_per_class` images of
  every class x every other class as target (Sec. IV-D1), with the rate of
  reaching the target;
- the robust suite on one class-balanced sample of `robust_per_class` test
  images per class: APGD-CE, APGD-T, Square (5000 queries) and PGD-100 x 5
  restarts, the worst case per image as the robust accuracy, and three
  gradient-masking checks; drawn as a clean-vs-robust frontier sized by
  training time;
- transfer ("unknown attack", Table III) accuracy on examples crafted against
  an independent black-box CNN of another architecture, trained here on the
  training split;
- the threats beyond L-inf that `evaluation.threats` names, on the robust
  suite's sample: the suite under L2, a grid of rotations and shifts, the
  MNIST-C corruptions, GA where an AC-GAN exists, and their per-image union;
- accuracy on LAD examples generated from test images through the original
  model's latent space, at every eps (Fig. 7), and the clean accuracy of the
  models fine-tuned per eps.

It also measures the diversity of LAD, FGSM and JSMA examples made from the
same provider images, and draws Figs. 4, 5 and 7. All attacks read only the
test split (diversity: the provider split); the examples used for hardening
come from the provider split, so no hardening example is a reported image.

Every finished (model, attack) result is cached under `<run>/evaluation/` with
a fingerprint of the model file and the settings, so an interrupted evaluation
continues where it stopped and a retrained model is evaluated afresh.

One module per job, in the order `run.RunEvaluation` calls them:

    budget        attack parameters, titles, batch and progress policy (also
                  read by the defences for their fine-tuning examples)
    context       the run, its data and settings every result reads; model loading
    samples       which test images each attack runs on
    cache         the result caches, one key scheme (`lad_tf.utils.files.cache_key`)
    whitebox      clean and white-box accuracy of one model
    robust        the robust suite: worst case per image, masking checks
    threats       L2, spatial, corruptions, union (ga_threat: GA), each cached on its own
    transfer      the black-box CNN and the examples crafted on it
    lad_examples  LAD examples from test images; the models fine-tuned per eps
    diversity     how varied LAD, FGSM and JSMA examples of one image are
    run           the orchestrator: every model, every kind of result
    costs         training time per method, read from a run's metrics
    tables        Markdown tables of a result; robust_tables, paper: their parts
    figures       Figs. 4 and 7 and the clean-vs-robust frontier
    threat_report the threats' table and grouped bar chart
    cli           `python -m lad_tf.evaluate`
    compare       `python -m lad_tf.compare`: models of several runs, one table and frontier

This package imports nothing on its own: the defences import
`lad_tf.attacks.budget` without loading the rest of the evaluation.
"""
