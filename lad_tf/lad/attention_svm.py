"""Attention layer + linear SVM head on latents (paper Sec. III-B a).

One SVM is fitted per ordered (source s, target t) class pair (`svm_pairs`);
a binary task has the one pair (0, 1), and generation from class 1 towards
class 0 uses that SVM negated (`svm_for_pairs`). All pairs are held in one
model with a leading pair axis, so that the 90 MNIST pairs train together in
a few batched matrix products instead of 90 Python loops.

For pair p and a latent z (dim D):
    a    = tanh(K_p z + c_p)            # "conv" on a 1x1 image with D channels
    beta = softmax(a)                   # over the D latent dimensions
    z_att = beta * z
    score = w_p . z_att + b_p           # > 0: target side, < 0: source side
    loss = C * mean(hinge(y * score)) + mean(w_p ** 2),  y = +1 for t, -1 for s
The boundary normal is d = w_p, pointing to the target.

Attention kernel (`attention_rank=`):
    0   K_p is a full D x D matrix, the paper's conv on a 1x1 image with D
        channels (MNIST: 500 x 500 = 250k weights a pair).
    r   K_p = U_p V_p with U_p [D, r], V_p [r, D]: 2 D r weights a pair. At
        D = 4096 a full kernel is 16.8M weights a pair, 1.5G for SVHN's 90
        pairs, too big to hold or fit; rank 32 (the SVHN recipe) needs 23.6M
        for all 90.

Attention variants (`attention=`):
    softmax         the paper's formula; beta ~ 1/D, so z_att is tiny and
                    w must grow ~D-fold to reach a margin.
    scaled_softmax  D * softmax(a): the same relative weights as the paper's
                    softmax, with mean 1, so the SVM sees latents at their own
                    scale (the default; see zoo/mnist/MODEL_CARD.md).
    exp_softmax     exp(softmax(a)) as in the authors' code; it stays within
                    1.0005-1.005, i.e. it selects no features.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

ATTENTIONS = ("softmax", "scaled_softmax", "exp_softmax")


@keras.saving.register_keras_serializable(package="lad_tf")
class AttentionSVM(keras.Model):
    """A batch of P attention SVMs over D-dimensional latents.

    Args:
        num_pairs: P, the number of (source, target) pairs.
        latent_dim: D.
        attention: one of `ATTENTIONS`.
        c: weight of the hinge term (the paper's C).
        attention_rank: 0 for a full D x D attention kernel per pair, r > 0
            for a rank-r factorisation (see the module docstring).

    Call: z float32 [P, N, D] -> scores float32 [P, N].
    """

    def __init__(self, num_pairs, latent_dim, attention="scaled_softmax", c=1.0,
                 attention_rank=0, **kwargs):
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}. Received: attention={attention}")
        if int(attention_rank) < 0:
            raise ValueError(
                f"attention_rank must be >= 0. Received: attention_rank={attention_rank}")
        self.num_pairs = int(num_pairs)
        self.latent_dim = int(latent_dim)
        self.attention_kind = attention
        self.c = float(c)
        self.attention_rank = int(attention_rank)
        P, D, R = self.num_pairs, self.latent_dim, self.attention_rank
        if R == 0:
            self.att_kernel = self.add_weight(
                shape=(P, D, D), initializer=keras.initializers.GlorotUniform(seed=1),
                name="att_kernel")
        else:
            self.att_u = self.add_weight(
                shape=(P, D, R), initializer=keras.initializers.GlorotUniform(seed=1), name="att_u")
            self.att_v = self.add_weight(
                shape=(P, R, D), initializer=keras.initializers.GlorotUniform(seed=3), name="att_v")
        self.att_bias = self.add_weight(shape=(P, D), initializer="zeros", name="att_bias")
        self.w = self.add_weight(
            shape=(P, D), initializer=keras.initializers.RandomNormal(stddev=0.01, seed=2), name="w")
        self.b = self.add_weight(shape=(P,), initializer="zeros", name="b")

    def attention(self, z):
        """beta(z): [P, N, D] -> [P, N, D]."""
        if self.attention_rank == 0:
            kz = tf.einsum("pnd,pde->pne", z, self.att_kernel)
        else:
            kz = tf.einsum("pnr,pre->pne", tf.einsum("pnd,pdr->pnr", z, self.att_u), self.att_v)
        a = tf.tanh(kz + self.att_bias[:, None, :])
        beta = tf.nn.softmax(a, axis=-1)
        if self.attention_kind == "scaled_softmax":
            beta = beta * float(self.latent_dim)
        elif self.attention_kind == "exp_softmax":
            beta = tf.exp(beta)
        return beta

    def score_with(self, z, beta):
        """The SVM score for a given attention: [P, N, D] x2 -> [P, N]."""
        return tf.einsum("pnd,pd->pn", beta * z, self.w) + self.b[:, None]

    def call(self, z):
        return self.score_with(z, self.attention(z))

    def svm_loss(self, z, y):
        """Per-pair loss C * mean(hinge) + mean(w^2), summed over pairs.

        Args:
            z: float32 [P, N, D]; y: float32 [P, N] in {-1, +1}.
        """
        hinge = tf.nn.relu(1.0 - y * self(z))
        per_pair = self.c * tf.reduce_mean(hinge, axis=1) + tf.reduce_mean(tf.square(self.w), axis=1)
        return tf.reduce_sum(per_pair)

    def boundary_normal(self):
        """d for each pair: [P, D], pointing from source to target."""
        return self.w

    def get_config(self):
        config = super().get_config()
        config.update(num_pairs=self.num_pairs, latent_dim=self.latent_dim,
                      attention=self.attention_kind, c=self.c,
                      attention_rank=self.attention_rank)
        return config


def ordered_pairs(num_classes: int) -> list[tuple[int, int]]:
    """All ordered (source, target) pairs with source != target.

    A binary task (num_classes 1 or 2) has the two pairs (0, 1) and (1, 0),
    which share one fitted SVM (`svm_pairs`, `svm_for_pairs`).
    """
    n = max(int(num_classes), 2)
    return [(s, t) for s in range(n) for t in range(n) if s != t]


def svm_pairs(num_classes: int) -> list[tuple[int, int]]:
    """The (source, target) pairs that get an SVM.

    A binary task (num_classes 1 or 2) has the one pair (0, 1): one boundary,
    used in both directions (`svm_for_pairs`). Otherwise `ordered_pairs`.
    """
    return [(0, 1)] if int(num_classes) <= 2 else ordered_pairs(num_classes)


def svm_for_pairs(svm: AttentionSVM, fitted_pairs, pairs) -> AttentionSVM:
    """The SVMs of `pairs`, taken from those fitted for `fitted_pairs`.

    A pair (s, t) uses the SVM fitted for (s, t), or the one fitted for (t, s)
    with w and b negated: the same attention and boundary, the normal d = -w
    pointing to t, and score > 0 on t's side. A binary task fits (0, 1) and
    generates along (0, 1) and (1, 0) this way.

    Returns:
        `svm` itself when `pairs` equals `fitted_pairs`, else a new
        `AttentionSVM` with len(pairs) pairs.

    Raises:
        ValueError: a pair with no SVM in either direction.
    """
    pairs = [tuple(int(c) for c in p) for p in pairs]
    fitted = {tuple(int(c) for c in p): i for i, p in enumerate(fitted_pairs)}
    if pairs == list(fitted):
        return svm
    index, sign = [], []
    for s, t in pairs:
        if (s, t) not in fitted and (t, s) not in fitted:
            raise ValueError(f"no SVM was fitted for ({s}, {t}) or ({t}, {s}). "
                             f"Received: fitted_pairs={list(fitted)}")
        index.append(fitted.get((s, t), fitted.get((t, s))))
        sign.append(1.0 if (s, t) in fitted else -1.0)
    out = AttentionSVM(len(pairs), svm.latent_dim, svm.attention_kind, svm.c,
                       svm.attention_rank)
    sign = tf.constant(sign)
    for name in ("att_kernel", "att_u", "att_v", "att_bias"):
        if hasattr(svm, name):
            getattr(out, name).assign(tf.gather(getattr(svm, name), index))
    out.w.assign(tf.gather(svm.w, index) * sign[:, None])
    out.b.assign(tf.gather(svm.b, index) * sign)
    return out


def pair_datasets(latents: np.ndarray, labels: np.ndarray, pairs, per_class: int,
                  holdout_fraction: float, seed: int = 0):
    """Stacks the latents of each pair into equal-size train / held-out arrays.

    For every pair (s, t), `per_class` latents of s (y = -1) and of t (y = +1)
    are drawn without replacement; `holdout_fraction` of each class is held out.

    Returns:
        (z_fit [P, Nf, D], y_fit [P, Nf], z_hold [P, Nh, D], y_hold [P, Nh]).
    """
    rng = np.random.default_rng(seed)
    by_class = {}
    for c in sorted(set(int(v) for s_t in pairs for v in s_t)):
        idx = np.flatnonzero(labels == c)
        if len(idx) < per_class:
            raise ValueError(
                f"class {c} has {len(idx)} provider latents, fewer than svm.per_class={per_class}")
        by_class[c] = rng.permutation(idx)[:per_class]
    n_hold = max(1, int(round(per_class * holdout_fraction)))
    z_fit, y_fit, z_hold, y_hold = [], [], [], []
    for s, t in pairs:
        src, tgt = by_class[s], by_class[t]
        z_fit.append(np.concatenate([latents[src[n_hold:]], latents[tgt[n_hold:]]]))
        y_fit.append(np.concatenate([-np.ones(per_class - n_hold), np.ones(per_class - n_hold)]))
        z_hold.append(np.concatenate([latents[src[:n_hold]], latents[tgt[:n_hold]]]))
        y_hold.append(np.concatenate([-np.ones(n_hold), np.ones(n_hold)]))
    as32 = lambda a: np.stack(a).astype("float32")
    return as32(z_fit), as32(y_fit), as32(z_hold), as32(y_hold)


def fit_attention_svms(svm: AttentionSVM, z_fit, y_fit, *, epochs: int, batch_size: int,
                       learning_rate: float, seed: int = 0, progress=None) -> list[float]:
    """Fits all pairs at once with Adam on shuffled minibatches along N.

    Args:
        progress: optional callable(epoch, loss) for progress output.

    Returns: the mean loss of each epoch.
    """
    optimizer = keras.optimizers.Adam(learning_rate)
    z_fit = tf.convert_to_tensor(z_fit)
    y_fit = tf.convert_to_tensor(y_fit)

    @tf.function(reduce_retracing=True)
    def step(zb, yb):
        with tf.GradientTape() as tape:
            loss = svm.svm_loss(zb, yb)
        grads = tape.gradient(loss, svm.trainable_variables)
        optimizer.apply_gradients(zip(grads, svm.trainable_variables))
        return loss

    n = int(z_fit.shape[1])
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = []
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            losses.append(float(step(tf.gather(z_fit, idx, axis=1), tf.gather(y_fit, idx, axis=1))))
        history.append(float(np.mean(losses)))
        if progress:
            progress(epoch, history[-1])
    return history


def svm_accuracy(svm: AttentionSVM, z, y) -> np.ndarray:
    """Per-pair accuracy of sign(score) against y: [P]."""
    scores = svm(tf.convert_to_tensor(z)).numpy()
    return np.mean(np.sign(scores) == y, axis=1)
