"""GA: unrestricted adversarial examples by searching an AC-GAN's latent space.

Song et al. (2018), "Constructing Unrestricted Adversarial Examples with
Generative Models", Section 3. For a source class s, draw z0 ~ N(0, I) and
search z (and, optionally, a small per-pixel noise) so that the attacked
classifier f reads x = clip(G(z, s) + noise_eps * tanh(n), 0, 1) as the
target t (targeted) or as anything but s (untargeted), while the AC-GAN's
auxiliary classifier still reads G(z, s) as s and z stays near z0:

    loss_i = adv_i + lambda1 * mean_j max((z_ij - z0_ij)^2 - z_eps^2, 0)
                   + lambda2 * CE(aux(G(z_i, s_i)), s_i)
    adv_i  = CE(f(x_i), t_i)                    (targeted)
           = min_{c != s_i} CE(f(x_i), c)       (untargeted)

z follows gradient descent with Langevin noise of variance
langevin / (1 + step)^0.55; the noise n follows its gradient normalised to
unit L2 norm per example. Defaults are those of the authors' released code
(`main.py`: lambda1 = lambda2 = 100, z_eps 0.1, eps 0.1, 1000 iterations,
SGD learning rate 1 on a loss averaged over a batch of 64). Here the loss is
per example, so that results do not depend on the batch size, and
`lr = 1 / 64` is their step. Song et al.'s appendix Table 4 lists
per-dataset settings; the stored material here did not hold it, so these
are the code's defaults, to be checked against the paper before measuring.

The search runs on whole batches; an example is a success when f says t
(targeted) or not s (untargeted) and the auxiliary classifier says s.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from lad_tf.attacks.logits import softmax_logits
from lad_tf.models.acgan import ACGAN
from lad_tf.utils.errors import LadError

DEFAULTS = {"steps": 1000, "lr": 1.0 / 64, "lambda1": 100.0, "lambda2": 100.0, "z_eps": 0.1,
            "noise_eps": 0.1, "noise_lr": 1.0, "langevin": 0.01, "seed": 0}


@dataclasses.dataclass(frozen=True)
class GAResult:
    """What one GA search returns, all numpy, B examples.

    Attributes:
        images: float32 [B, H, W, C] in [0, 1], the adversarial images.
        z0: float32 [B, latent_dim], the starting latents.
        z: float32 [B, latent_dim], the final latents.
        predictions: int [B], the attacked classifier's labels of `images`.
        aux_predictions: int [B], the auxiliary classifier's labels of
            G(z, s) (before the pixel noise, as in Song et al.).
        success: bool [B], f says t (or not s) and the auxiliary says s.
        losses: float32 [steps + 1], mean loss before each step and at the end.
    """

    images: np.ndarray
    z0: np.ndarray
    z: np.ndarray
    predictions: np.ndarray
    aux_predictions: np.ndarray
    success: np.ndarray
    losses: np.ndarray


def initial_latents(count: int, latent_dim: int, seed: int = 0, first_index: int = 0) -> np.ndarray:
    """z0 ~ N(0, I) per example, keyed by (seed, example index).

    Example i of a crafted set gets the same z0 whatever the batch size.

    Returns: float32 [count, latent_dim].
    """
    return np.stack([np.random.default_rng([seed, first_index + i]).standard_normal(latent_dim)
                     for i in range(count)]).astype("float32").reshape(count, latent_dim)


_LOADED: dict = {}


def resolve_acgan(acgan):
    """An `ACGAN` from a model or a path to a saved `.keras` file (cached by path / mtime).

    Raises:
        LadError: no AC-GAN given, a missing file, or an object of another kind.
    """
    if acgan is None:
        raise LadError("GA searches an AC-GAN's latent space: pass acgan= (an ACGAN, or the path "
                       "of the acgan.keras that `python -m lad_tf.acgan RUN_DIR` writes)")
    if isinstance(acgan, (str, os.PathLike)):
        path = os.fspath(acgan)
        if not os.path.isfile(path):
            raise LadError(f"no AC-GAN file at {path}; train one with `python -m lad_tf.acgan "
                           f"RUN_DIR` and pass RUN_DIR/acgan/acgan.keras")
        key = (os.path.abspath(path), os.path.getmtime(path))
        if key not in _LOADED:
            _LOADED.clear()
            _LOADED[key] = keras.saving.load_model(path, compile=False)
        acgan = _LOADED[key]
    if not isinstance(acgan, ACGAN):
        raise LadError(f"acgan= must be an lad_tf ACGAN or the path of its .keras file; got "
                       f"{type(acgan).__name__}")
    return acgan


def _check(params: dict, steps: int):
    for name in ("lr", "lambda1", "lambda2", "z_eps", "noise_eps", "noise_lr", "langevin"):
        if not np.isfinite(params[name]) or params[name] < 0:
            raise LadError(f"GA parameter {name} must be a finite number >= 0; got {params[name]}")
    if int(steps) != steps or steps < 0:
        raise LadError(f"GA parameter steps must be an integer >= 0 (0: plain AC-GAN samples); "
                       f"got {steps}")


def _labels(values, name: str, count: int, num_classes: int) -> np.ndarray:
    labels = np.asarray(values)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise LadError(f"GA needs {name} as int labels, one per image ({count}); got shape "
                       f"{labels.shape}, dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise LadError(f"GA {name} labels must lie in 0..{num_classes - 1} (the AC-GAN's "
                       f"classes); got {labels.min()}..{labels.max()}")
    return labels.astype("int32")


def ga_search(model, acgan, source, target=None, steps: int = 1000, lr: float = 1.0 / 64,
              lambda1: float = 100.0, lambda2: float = 100.0, z_eps: float = 0.1,
              noise_eps: float = 0.1, noise_lr: float = 1.0, langevin: float = 0.01,
              seed: int = 0, first_index: int = 0) -> GAResult:
    """Runs GA on one batch and returns everything it found (see the module docstring).

    Args:
        model: callable images float32 [B, H, W, C] in [0, 1] -> logits
            [B, K] (a one-logit binary model is read as two logits).
        acgan: an `ACGAN`, or the path of its `.keras` file.
        source: int [B], the classes s the AC-GAN is asked for.
        target: int [B], the target classes t (targeted), or None
            (untargeted). A target equal to its source is an error.
        steps: search steps; 0 returns the plain samples G(z0, s).
        lr: step size of z on the per-example loss.
        lambda1: weight of the soft constraint keeping z within z_eps of z0.
        lambda2: weight of the auxiliary classifier's cross-entropy to s.
        z_eps: per-coordinate slack of |z - z0| before lambda1 applies.
        noise_eps: L-inf bound of the per-pixel noise (0: no noise).
        noise_lr: step of the noise variable along its normalised gradient.
        langevin: variance of the Langevin noise on z at step 0.
        seed: seed of z0 (see `initial_latents`) and of the Langevin noise.
        first_index: index of this batch's first example in the crafted set.
    Returns: `GAResult`.

    Raises:
        LadError: a bad parameter or label, or no AC-GAN.
    """
    acgan = resolve_acgan(acgan)
    params = dict(lr=lr, lambda1=lambda1, lambda2=lambda2, z_eps=z_eps, noise_eps=noise_eps,
                  noise_lr=noise_lr, langevin=langevin)
    _check(params, steps)
    source, target = _source_target(source, target, acgan.num_classes)
    count = len(source)
    z0 = initial_latents(count, acgan.latent_dim, seed, first_index)
    loss_of, step = _search_fns(model, acgan, target is not None, lambda1, lambda2, z_eps,
                                noise_eps, lr, noise_lr, langevin, seed)
    s = tf.constant(source)
    t = s if target is None else tf.constant(target)  # untargeted: t is not read
    z0_t = tf.constant(z0)
    z = z0_t
    noise = tf.zeros((count, *acgan.image_shape), tf.float32)
    losses = []
    for i in range(int(steps)):
        z, noise, loss = step(z, noise, tf.constant(float(i)), s, t, z0_t)
        losses.append(float(loss))
    loss, x, clean, logits, aux_logits = loss_of(z, noise, s, t, z0_t)
    losses.append(float(tf.reduce_mean(loss)))
    if steps == 0:
        x = clean  # exactly the AC-GAN's samples
    pred = np.argmax(np.asarray(logits), -1)
    aux_pred = np.argmax(np.asarray(aux_logits), -1)
    fooled = pred != source if target is None else pred == target
    return GAResult(images=np.asarray(x, "float32"), z0=z0, z=np.asarray(z, "float32"),
                    predictions=pred, aux_predictions=aux_pred,
                    success=fooled & (aux_pred == source), losses=np.asarray(losses, "float32"))


def _source_target(source, target, num_classes: int):
    """Checked int32 source [B] and target [B] (or None) labels."""
    source = _labels(source, "source", len(np.asarray(source)), num_classes)
    if target is not None:
        target = _labels(target, "target", len(source), num_classes)
        if np.any(target == source):
            raise LadError("GA target classes must differ from their source classes (y); "
                           "drop those examples or use the untargeted form (attack 'ga')")
    return source, target


# (model, AC-GAN, setting) -> (loss_of, traced step): one trace serves every
# batch of that shape, so a study of many batches does not retrace per batch.
# The models are kept in the value, so their ids stay valid while cached.
_SEARCHES: dict = {}


def _search_fns(model, acgan, targeted, lambda1, lambda2, z_eps, noise_eps, lr, noise_lr,
                langevin, seed):
    """(loss_of, step) for one model, AC-GAN and search setting (cached)."""
    key = (id(model), id(acgan), targeted, lambda1, lambda2, z_eps, noise_eps, lr, noise_lr,
           langevin, seed)
    if key not in _SEARCHES:
        if len(_SEARCHES) >= 16:
            _SEARCHES.clear()
        loss_of = _loss_fn(softmax_logits(model), acgan, targeted, lambda1, lambda2, z_eps,
                           noise_eps)
        _SEARCHES[key] = (model, acgan, loss_of, _step_fn(loss_of, lr, noise_lr, langevin, seed))
    return _SEARCHES[key][2:]


def _loss_fn(logits_of, acgan, targeted, lambda1, lambda2, z_eps, noise_eps):
    """loss_of(z, noise, s, t, z0) -> (per-example loss [B], x, G(z, s), f's logits,
    aux logits); t is read only when `targeted`."""

    def images_of(z, noise, s):
        clean = acgan.generator((z, s), training=False)
        if noise_eps == 0:
            return clean, clean
        return clean, tf.clip_by_value(clean + noise_eps * tf.tanh(noise), 0.0, 1.0)

    def loss_of(z, noise, s, t, z0):
        clean, x = images_of(z, noise, s)
        logits = logits_of(x)
        _, aux_logits = acgan.critic(clean, training=False)
        log_p = tf.nn.log_softmax(logits)
        if not targeted:  # min over c != s of CE(f(x), c) = -max_{c != s} log p_c
            mask = tf.one_hot(s, tf.shape(logits)[-1], on_value=-np.inf, off_value=0.0)
            adv = -tf.reduce_max(log_p + mask, axis=-1)
        else:
            adv = -tf.gather(log_p, t, batch_dims=1)
        near = tf.reduce_mean(tf.nn.relu(tf.square(z - z0) - z_eps ** 2), axis=-1)
        keep = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=s, logits=aux_logits)
        loss = adv + lambda1 * near + lambda2 * keep
        return loss, x, clean, logits, aux_logits

    return loss_of


def _step_fn(loss_of, lr, noise_lr, langevin, seed):
    """One traced search step (z, noise, i, s, t, z0) -> (z, noise, mean loss before it)."""

    @tf.function(reduce_retracing=True)
    def step(z, noise, i, s, t, z0):
        with tf.GradientTape() as tape:
            tape.watch([z, noise])
            loss, *_ = loss_of(z, noise, s, t, z0)
            total = tf.reduce_sum(loss)  # per-example losses: each z_i gets its own gradient
        gz, gn = tape.gradient(total, [z, noise])
        std = tf.sqrt(langevin / tf.pow(1.0 + i, 0.55))
        key = tf.stack([tf.constant(seed, tf.int32), tf.cast(i, tf.int32)])
        z = z - lr * gz + std * tf.random.stateless_normal(tf.shape(z), key)
        if gn is None:  # noise_eps 0: the images do not depend on the noise
            return z, noise, tf.reduce_mean(loss)
        norm = tf.sqrt(tf.reduce_sum(tf.square(gn), axis=[1, 2, 3], keepdims=True))
        noise = noise - noise_lr * gn / tf.maximum(norm, 1e-12)
        return z, noise, tf.reduce_mean(loss)

    return step


def ga(model, x, y=None, acgan=None, steps: int = 1000, lr: float = 1.0 / 64,
       lambda1: float = 100.0, lambda2: float = 100.0, z_eps: float = 0.1,
       noise_eps: float = 0.1, noise_lr: float = 1.0, langevin: float = 0.01, seed: int = 0,
       first_index: int = 0):
    """Untargeted GA through `craft("ga", model, x, y, acgan=...)`.

    GA synthesises its images: `x` only sets how many and their shape (it
    must match the AC-GAN's), `y` gives the source classes (required).

    Args: see `ga_search`; x: float32 [B, H, W, C]; y: int [B] sources.
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    _need_sources(y)
    acgan = resolve_acgan(acgan)
    _check_shape(x, acgan)
    return ga_search(model, acgan, y, None, steps, lr, lambda1, lambda2, z_eps, noise_eps,
                     noise_lr, langevin, seed, first_index).images


def ga_targeted(model, x, target, y=None, acgan=None, steps: int = 1000, lr: float = 1.0 / 64,
                lambda1: float = 100.0, lambda2: float = 100.0, z_eps: float = 0.1,
                noise_eps: float = 0.1, noise_lr: float = 1.0, langevin: float = 0.01,
                seed: int = 0, first_index: int = 0):
    """Targeted GA through `craft("ga_t", model, x, y, target=..., acgan=...)`.

    Args: as `ga`, plus target: int [B] target classes (each != its source y).
    Returns: float32 [B, H, W, C] in [0, 1].
    """
    _need_sources(y)
    acgan = resolve_acgan(acgan)
    _check_shape(x, acgan)
    return ga_search(model, acgan, y, target, steps, lr, lambda1, lambda2, z_eps, noise_eps,
                     noise_lr, langevin, seed, first_index).images


def _need_sources(y):
    if y is None:
        raise LadError("GA needs the source classes: pass y= (int labels, one per image); "
                       "x only sets the number and shape of the synthesised images")


def _check_shape(x, acgan):
    if tuple(np.shape(x)[1:]) != tuple(acgan.image_shape):
        raise LadError(f"x has images of shape {tuple(np.shape(x)[1:])}, but the AC-GAN makes "
                       f"{tuple(acgan.image_shape)}; pass x of the AC-GAN's image shape")
