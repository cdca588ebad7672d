"""Boundary-guided generation (paper Sec. III-B b, c) and Eq. 3 statistics.

For pair p = (s, t), a source latent z = phi(x) of class s is moved along the
attended boundary normal:

    z' = z + eps * beta(z) * d_p,        x_adv = G(z'),   label(x_adv) = s.

eps units (`unit=`):
    raw         eps multiplies beta * d directly, as in the paper; its scale
                depends on the SVM fit, so the paper's eps lists do not carry
                over to another fit (`python -m lad_tf.study` sweeps both units).
    calibrated  eps is measured in "steps to the SVM boundary": with beta held
                at beta(z), score(z + e * beta * d) = score(z) + e * sum(beta^2 d^2),
                so e_1(z) = |score(z)| / sum(beta^2 d^2) reaches the boundary and
                eps = k uses e = k * e_1(z). eps 1 lands on the SVM boundary,
                eps 2 as far beyond it as the example started before it.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import tensorflow as tf

from lad_tf.lad.attention_svm import AttentionSVM
from lad_tf.utils.batching import batched, predict_labels
from lad_tf.utils.files import write_bytes
from lad_tf.utils.traced import traced_call


def perturb_latents(svm: AttentionSVM, z, eps: float, unit: str = "calibrated"):
    """z' = z + e * beta(z) * d for every pair.

    Args:
        z: float32 [P, N, D], source latents of each pair.
        eps: perturbation strength in `unit`.
    Returns: float32 [P, N, D].
    """
    z = tf.convert_to_tensor(z, tf.float32)
    beta = svm.attention(z)
    step = beta * svm.boundary_normal()[:, None, :]
    if unit == "calibrated":
        score = svm.score_with(z, beta)
        reach = tf.reduce_sum(tf.square(step), axis=-1)  # sum(beta^2 d^2) > 0
        e = eps * tf.abs(score) / tf.maximum(reach, 1e-12)
        return z + e[..., None] * step
    if unit == "raw":
        return z + eps * step
    raise ValueError(f"unit must be 'calibrated' or 'raw'. Received: unit={unit}")


def select_sources(labels: np.ndarray, pairs, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` source examples for each pair: int [P, per_class].

    Each source class uses the same seeded draw for all of its targets.
    """
    rng = np.random.default_rng(seed)
    chosen = {}
    for s in sorted({s for s, _ in pairs}):
        idx = np.flatnonzero(labels == s)
        if len(idx) < per_class:
            raise ValueError(f"class {s} has only {len(idx)} examples; per_class={per_class}")
        chosen[s] = np.sort(rng.choice(idx, per_class, replace=False))
    return np.stack([chosen[s] for s, _ in pairs])


@dataclasses.dataclass
class GeneratedSet:
    """Adversarial examples for every (eps, pair, source example).

    Arrays are indexed [E, P, N, ...] with E eps values, P pairs, N sources.
    """

    eps: np.ndarray  # [E]
    pairs: np.ndarray  # int [P, 2] (source, target)
    source_index: np.ndarray  # int [P, N] into the provider split
    images: np.ndarray  # float32 [E, P, N, H, W, C] in [0, 1]
    pred_image: np.ndarray  # int [E, P, N]: argmax f(G(z'))
    pred_latent: np.ndarray  # int [E, P, N]: argmax f_p(z')

    @property
    def source(self) -> np.ndarray:
        return np.broadcast_to(self.pairs[None, :, None, 0], self.pred_image.shape)

    @property
    def target(self) -> np.ndarray:
        return np.broadcast_to(self.pairs[None, :, None, 1], self.pred_image.shape)

    def stats(self) -> list[dict]:
        """Per eps: attack success (prediction leaves the source), targeted
        success (prediction is the target), and the Eq. 3 inconsistency rate."""
        rows = []
        for i, eps in enumerate(self.eps):
            src, tgt = self.source[i], self.target[i]
            rows.append({
                "eps": float(eps),
                "examples": int(src.size),
                "attack_success": float(np.mean(self.pred_image[i] != src)),
                "targeted_success": float(np.mean(self.pred_image[i] == tgt)),
                "latent_success": float(np.mean(self.pred_latent[i] != src)),
                "inconsistency": float(np.mean(self.pred_latent[i] != self.pred_image[i])),
            })
        return rows

    def pair_success(self) -> np.ndarray:
        """Attack success per eps and pair: float [E, P]."""
        return np.mean(self.pred_image != self.source, axis=2)

    def training_set(self, only_inconsistent: bool = False):
        """Flattens to (images [M, H, W, C], labels [M]) with the source labels."""
        keep = np.ones(self.pred_image.shape, bool)
        if only_inconsistent:
            keep = self.pred_latent != self.pred_image
        return self.images[keep], self.source[keep].astype("int64")

    def first_examples(self) -> "GeneratedSet":
        """The first source example of every pair (N = 1): what the figures show."""
        return GeneratedSet(self.eps, self.pairs, self.source_index[:, :1],
                            self.images[:, :, :1], self.pred_image[:, :, :1],
                            self.pred_latent[:, :, :1])

    def save(self, path):
        """Writes the arrays to `path` (.npz, compressed) atomically."""
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **dataclasses.asdict(self))
        write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path) -> "GeneratedSet":
        with np.load(path) as f:
            return cls(**{k: f[k] for k in f.files})


def generate(classifier, generator, svm: AttentionSVM, x_provider: np.ndarray,
             y_provider: np.ndarray, pairs, per_class: int, eps_values, unit: str,
             batch_size: int = 512, seed: int = 0, progress=None) -> GeneratedSet:
    """Runs boundary-guided generation for every pair and eps value.

    Args:
        x_provider: float32 [M, H, W, C] in [0, 1], the provider split (never
            the test set).
        y_provider: int [M].
        progress: optional callable(i, n, eps) for progress output.
    """
    pairs = np.asarray(pairs, dtype="int64")
    src_idx = select_sources(y_provider, [tuple(p) for p in pairs], per_class, seed)
    features, head = traced_call(classifier, "features"), traced_call(classifier, "head")
    decode, classify = traced_call(generator), traced_call(classifier)

    unique_src = np.unique(src_idx)
    latent_of = dict(zip(unique_src, batched(features, x_provider[unique_src], batch_size)))
    z = np.stack([[latent_of[i] for i in row] for row in src_idx])  # [P, N, D]
    P, N, D = z.shape

    images, pred_image, pred_latent = [], [], []
    for i, eps in enumerate(eps_values):
        z_adv = perturb_latents(svm, z, float(eps), unit).numpy().reshape(P * N, D)
        x_adv = batched(decode, z_adv, batch_size)
        images.append(x_adv.reshape(P, N, *x_adv.shape[1:]))
        pred_image.append(predict_labels(batched(classify, x_adv, batch_size)).reshape(P, N))
        pred_latent.append(predict_labels(batched(head, z_adv, batch_size)).reshape(P, N))
        if progress:
            progress(i, len(eps_values), eps)
    return GeneratedSet(
        eps=np.asarray(eps_values, "float32"), pairs=pairs, source_index=src_idx,
        images=np.stack(images).astype("float32"), pred_image=np.stack(pred_image),
        pred_latent=np.stack(pred_latent))
