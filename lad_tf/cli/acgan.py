"""`python -m lad_tf.acgan RUN_DIR`: trains the AC-GAN that GA searches, resumably
(`lad_tf.studies.ga.acgan`)."""

from __future__ import annotations

import argparse

from lad_tf.utils.errors import command


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lad_tf.acgan", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="folder for the AC-GAN's artefacts (continued if present)")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default $LAD_DATA_DIR)")
    parser.add_argument("--steps", type=int, default=100_000, help="generator steps in all")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=128)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--no-decay", action="store_true", help="constant learning rate")
    parser.add_argument("--chunk", type=int, default=500, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pooling", choices=("average", "flatten"), default="average",
                        help="the critic's pooling before its heads (average: Song et al.; "
                             "flatten: learns classes faster at few channels)")
    parser.add_argument("--generator-aux-weight", type=float, default=1.0,
                        help="weight of the generator's class loss (1: Song et al.; 0.1: "
                             "Gulrajani et al.'s AC-GAN, less prone to one sample per class)")
    args = parser.parse_args(argv)
    from lad_tf.studies.ga.acgan import train_acgan  # TensorFlow loads here

    train_acgan(args.run_dir, args.dataset, args.steps, args.batch_size, args.latent_dim,
                args.channels, args.n_critic, args.learning_rate, not args.no_decay,
                args.chunk, args.seed, args.data_dir, pooling=args.pooling,
                generator_aux_weight=args.generator_aux_weight)
    return 0
