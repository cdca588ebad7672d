"""AC-WGAN-GP (Song et al. 2018's AC-GAN): generator and critic trained together."""

from __future__ import annotations

import keras
import tensorflow as tf

from lad_tf.models.acgan.critic import ACGANCritic
from lad_tf.models.acgan.generator import ACGANGenerator


@keras.saving.register_keras_serializable(package="lad_tf")
class ACGAN(keras.Model):
    """An auxiliary-classifier Wasserstein GAN with gradient penalty.

    One `train_step` on a real batch (x, y) makes `n_critic` critic updates
    (fresh z and interpolation weights each time, on that same real batch,
    as in the keras-io WGAN-GP example; Song et al. draw a new real batch per
    critic update) and then one generator update:

        critic:    mean D(G(z, y)) - mean D(x~) + gp_weight * GP
                   + aux_weight * CE(aux(x~), y)
        generator: -mean D(G(z, y)) + generator_aux_weight * CE(aux(G(z, y)), y)

    with x~ = x + U[0, 1/255) (dequantised, as Song et al.), GP = mean
    (||grad D(x_hat)||_2 - 1)^2 on x_hat between x~ and G(z, y), and the
    fake images conditioned on the real batch's labels. Song et al. (MNIST):
    n_critic 5, gp_weight 10, Adam 2e-4 with beta_1 0, beta_2 0.9, decayed
    linearly to 0 over 100k generator steps (`lad_tf.studies.ga.acgan.train_acgan`).

    Args:
        generator: an `ACGANGenerator` (or None: one with the defaults).
        critic: an `ACGANCritic` with the generator's classes and image shape.
        n_critic: critic updates per generator update (>= 1).
        gp_weight: weight of the gradient penalty (>= 0).
        aux_weight: weight of the critic's auxiliary classification loss (>= 0).
        generator_aux_weight: weight of the generator's (None: aux_weight, as
            Song et al.; Gulrajani et al.'s AC-GAN code uses 0.1, which
            pushes the generator less towards one easy sample per class).
        seed: seed of the model's random draws (z, dequantisation, GP mix).

    Call: (z float32 [B, latent_dim], labels int [B]) -> images float32
    [B, H, W, C] in [0, 1] (the generator in inference mode).

    Raises:
        ValueError: a bad weight or count, or a critic that does not match
            the generator's classes / image shape.
    """

    def __init__(self, generator=None, critic=None, n_critic=5, gp_weight=10.0, aux_weight=1.0,
                 seed=None, generator_aux_weight=None, **kwargs):
        super().__init__(**kwargs)
        generator = generator if generator is not None else ACGANGenerator()
        critic = critic if critic is not None else ACGANCritic(
            num_classes=generator.num_classes, image_shape=generator.image_shape)
        if isinstance(generator, dict):
            generator = keras.saving.deserialize_keras_object(generator)
        if isinstance(critic, dict):
            critic = keras.saving.deserialize_keras_object(critic)
        generator_aux_weight = aux_weight if generator_aux_weight is None else generator_aux_weight
        if n_critic < 1 or gp_weight < 0 or aux_weight < 0 or generator_aux_weight < 0:
            raise ValueError(f"n_critic must be >= 1, gp_weight and aux_weight >= 0. Received: "
                             f"n_critic={n_critic}, gp_weight={gp_weight}, aux_weight={aux_weight}")
        if (critic.num_classes != generator.num_classes
                or tuple(critic.image_shape) != tuple(generator.image_shape)):
            raise ValueError(f"critic and generator disagree: classes {critic.num_classes} vs "
                             f"{generator.num_classes}, images {critic.image_shape} vs "
                             f"{generator.image_shape}")
        self.generator, self.critic = generator, critic
        self.n_critic, self.gp_weight, self.aux_weight = int(n_critic), float(gp_weight), float(aux_weight)
        self.generator_aux_weight = float(generator_aux_weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.generator.build()
        self.critic.build()
        self.built = True
        names = ["critic_loss", "generator_loss", "wasserstein", "gradient_penalty",
                 "aux_loss_real", "aux_loss_fake", "aux_accuracy_real", "aux_accuracy_fake"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    @property
    def image_shape(self) -> tuple:
        return tuple(self.generator.image_shape)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, generator_optimizer=None, critic_optimizer=None, **kwargs):
        """One optimizer per network; default Adam(2e-4, beta_1=0, beta_2=0.9) each."""
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(2e-4, 0.0, 0.9)
        self.critic_optimizer = critic_optimizer or keras.optimizers.Adam(2e-4, 0.0, 0.9)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.critic_optimizer.build(self.critic.trainable_variables)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate(self, z, labels):
        """Samples: z float32 [B, latent_dim], labels int [B] -> [B, H, W, C] in [0, 1]."""
        return self.generator((z, labels), training=False)

    def sample_latents(self, batch_size):
        """z ~ N(0, I): float32 [batch_size, latent_dim], from the model's seed."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def gradient_penalty(self, real, fake):
        """mean (||grad_x D(x_hat)||_2 - 1)^2 on random mixes x_hat of real and fake."""
        alpha = keras.random.uniform((tf.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            score, _ = self.critic(mixed, training=True)
        grads = tape.gradient(score, mixed)
        norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean(tf.square(norms - 1.0))

    def critic_loss(self, real, y):
        """(loss, terms) of one critic update on the dequantised real batch."""
        fake = self.generator((self.sample_latents(tf.shape(real)[0]), y), training=True)
        real_score, real_logits = self.critic(real, training=True)
        fake_score, _ = self.critic(fake, training=True)
        wasserstein = tf.reduce_mean(real_score) - tf.reduce_mean(fake_score)
        penalty = self.gradient_penalty(real, fake)
        aux = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, real_logits, True))
        loss = -wasserstein + self.gp_weight * penalty + self.aux_weight * aux
        return loss, {"wasserstein": wasserstein, "gradient_penalty": penalty,
                      "aux_loss_real": aux, "aux_accuracy_real": _accuracy(y, real_logits)}

    def generator_loss(self, y):
        """(loss, terms) of one generator update with the batch's labels."""
        fake = self.generator((self.sample_latents(tf.shape(y)[0]), y), training=True)
        fake_score, fake_logits = self.critic(fake, training=True)
        aux = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, fake_logits, True))
        loss = -tf.reduce_mean(fake_score) + self.generator_aux_weight * aux
        return loss, {"aux_loss_fake": aux, "aux_accuracy_fake": _accuracy(y, fake_logits)}

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        y = tf.cast(tf.reshape(y, [-1]), tf.int32)
        real = x + keras.random.uniform(tf.shape(x), 0.0, 1.0 / 255.0, seed=self.seed_generator)
        for _ in range(self.n_critic):
            with tf.GradientTape() as tape:
                c_loss, c_terms = self.critic_loss(real, y)
            variables = self.critic.trainable_variables
            self.critic_optimizer.apply_gradients(zip(tape.gradient(c_loss, variables), variables))
        with tf.GradientTape() as tape:
            g_loss, g_terms = self.generator_loss(y)
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(g_loss, variables), variables))
        for name, value in {"critic_loss": c_loss, "generator_loss": g_loss, **c_terms,
                            **g_terms}.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def get_config(self):
        config = super().get_config()
        config.update(generator=keras.saving.serialize_keras_object(self.generator),
                      critic=keras.saving.serialize_keras_object(self.critic),
                      n_critic=self.n_critic, gp_weight=self.gp_weight,
                      aux_weight=self.aux_weight, seed=self.seed,
                      generator_aux_weight=self.generator_aux_weight)
        return config


def _accuracy(y, logits):
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y),
                                  tf.float32))
