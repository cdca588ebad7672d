"""The 15 MNIST-C corruptions (Mu & Gilmer 2019, "MNIST-C: A Robustness Benchmark
for Computer Vision"), generated in-process with a fixed seed, each at the
severity of the published dataset: the default `severity` of its function in
google-research/mnist-c `corruptions.py` (the repository's notebook calls them so).

    corruption     severity  parameters                                 approximated
    shot_noise     5         Poisson, lam 3                             no
    impulse_noise  4         salt and pepper, amount 0.17               no
    glass_blur     1         sigma 0.7, max_delta 1, 2 iterations       no
    motion_blur    1         radius 10, sigma 3, angle U(-45, 45) deg   yes
    shear          2         0.4 rad, random sign                       no
    scale          3         digit scaled by 0.7 about the centre       no
    rotate         2         0.4 rad, random sign                       no
    brightness     5         HSV value + 0.5                            no
    translate      3         3 px along x and along y, random signs     no
    stripe         -         columns 0-6 and 21-27 inverted             no
    fog            5         plasma fractal x 3.0, wibble decay 1.4     no
    spatter        4         noise 0.65 +- 0.3, sigmas 1 / 1.5, gray 63 no
    dotted_line    -         line width 2.3, dashes of 2 px             no
    zigzag         -         segments 2 long and 2 high, width 2.3      no
    canny_edges    -         sigma 1, thresholds 0.1 / 0.2              yes

"no": MNIST-C's procedure, with draws from `np.random.default_rng(seed)`, on
[0, 1] floats (MNIST-C divides 0..255 by 255 first; glass blur's uint8 step is
kept). Motion blur (ImageMagick via wand) and canny (skimage) are rewritten with
NumPy / SciPy (see `approximation`). One-channel glass blur blurs along rows
only, as MNIST-C's `gaussian(..., multichannel=True)` did on 2-D images.

Other sizes, s = H / 28 (W / 28 along columns): blur sigmas, glass blur's
max_delta, motion blur's radius, shifts and the stripe width scale with s;
lines are laid out in 28-pixel units; fog's 28 x 28 plasma crop is resized to
H x W; warps keep the centre ((W-1)/2, (H-1)/2) fixed, MNIST-C's (13.5, 13.5).
RGB: noises draw per value; blurs, warps, stripes and spatter treat channels
alike; brightness raises the HSV value (hue and saturation kept); fog and lines
add one gray layer; canny uses the luminance (rgb2gray weights) and fills every
channel. NumPy and SciPy only: the module imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from lad_tf.utils.errors import LadError

LUMINANCE = np.array([0.2125, 0.7154, 0.0721])  # skimage.color.rgb2gray
LINE_WIDTH = 2.3  # MNIST-C line_from_points: intensity log(1 - d / 2.3) + 1 at distance d


@dataclasses.dataclass(frozen=True)
class CorruptionSpec:
    """One MNIST-C corruption.

    Attributes:
        name: registry key, e.g. "shot_noise".
        title: name for tables, e.g. "shot noise".
        params: MNIST-C's severity level (if it has one) and the parameters it sets.
        approximation: None for MNIST-C's procedure, else where this differs.
        fn: (x float64 [N, H, W, C] in [0, 1], rng, **params but "severity") -> x.
    """

    name: str
    title: str
    params: dict
    approximation: str | None
    fn: Callable[..., np.ndarray]


def _blur(x: np.ndarray, sigma_r: float, sigma_c: float, mode: str = "nearest") -> np.ndarray:
    """skimage.filters.gaussian (truncate 4) over axes 1 and 2 of [N, H, W(, C)]."""
    sigma = (0.0, sigma_r, sigma_c) + (0.0,) * (x.ndim - 3)
    return ndimage.gaussian_filter(x, sigma=sigma, mode=mode, truncate=4.0)


def _warp(x: np.ndarray, matrix, shift=(0.0, 0.0), keep_centre: bool = True) -> np.ndarray:
    """skimage's warp(x, inverse_map=AffineTransform): output (c, r) reads input
    matrix @ (c, r) + t, bilinear, t fixing the centre, plus `shift` (x, y); outside
    neighbours count as 0 and are interpolated (scipy's grid-constant)."""
    _, h, w, _ = x.shape
    a = np.asarray(matrix, float)
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    t = (centre - a @ centre if keep_centre else np.zeros(2)) + np.asarray(shift, float)
    full = np.eye(4)
    full[1:3, 1:3] = [[a[1, 1], a[1, 0]], [a[0, 1], a[0, 0]]]  # (row, col) order
    return ndimage.affine_transform(x, full, offset=[0.0, t[1], t[0], 0.0], order=1,
                                    mode="grid-constant", cval=0.0)


def _warp_groups(x: np.ndarray, keys: np.ndarray, warp: Callable) -> np.ndarray:
    """warp(x[group], key) for each group of images with the same row of keys [N, k]."""
    out = np.empty_like(x)
    for key in np.unique(keys, axis=0):
        sel = (keys == key).all(axis=1)
        out[sel] = warp(x[sel], key)
    return out


def _grid_28(n: int) -> np.ndarray:
    """Pixel centres of a side of n pixels in 28-pixel units (0..27 for n = 28)."""
    return (np.arange(n) + 0.5) * 28.0 / n - 0.5


def _lines(c0, r0, c1, r1, h: int, w: int) -> np.ndarray:
    """MNIST-C's line_from_points for K lines at once, in 28-pixel units -> [K, H, W]:
    the line through (c0, r0), (c1, r1), log(1 - d / 2.3) + 1 at vertical distance d,
    drawn between columns floor(c0) and ceil(c1) (exclusive); none if vertical."""
    c0, r0, c1, r1 = (np.asarray(v, float).reshape(-1, 1, 1) for v in (c0, r0, c1, r1))
    rows, cols = _grid_28(h)[:, None], _grid_28(w)
    vertical = c1 == c0
    slope = (r1 - r0) / np.where(vertical, 1.0, c1 - c0)
    dist = np.minimum(np.abs(rows - (slope * (cols - c0) + r0)), LINE_WIDTH - 1e-10)
    layer = np.clip(np.log(1.0 - dist / LINE_WIDTH) + 1.0, 0.0, 1.0)
    inside = (cols > np.floor(c0) - 0.5) & (cols < np.ceil(c1) - 0.5) & ~vertical
    return np.where(inside, layer, 0.0)


def _plasma(rng: np.random.Generator, n: int, wibble_decay: float, size: int = 256) -> np.ndarray:
    """n diamond-square height maps [n, size, size] in [0, 1] (MNIST-C's plasma_fractal)."""
    out = np.empty((n, size, size))

    def wibbled(total):  # mean of 4 points plus noise of the current level
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    for start in range(0, n, 64):  # 64 maps at a time bound memory
        maps = np.zeros((min(64, n - start), size, size))
        step, wibble = size, 100.0
        while step >= 2:
            half = step // 2
            corners = maps[:, ::step, ::step]
            square = corners + np.roll(corners, -1, axis=1)
            maps[:, half::step, half::step] = wibbled(square + np.roll(square, -1, axis=2))
            mids, corners = maps[:, half::step, half::step], maps[:, ::step, ::step]
            top = mids + np.roll(mids, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
            left = mids + np.roll(mids, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
            maps[:, ::step, half::step] = wibbled(top)
            maps[:, half::step, ::step] = wibbled(left)
            step //= 2
            wibble /= wibble_decay
        maps -= maps.min(axis=(1, 2), keepdims=True)
        out[start:start + len(maps)] = maps / maps.max(axis=(1, 2), keepdims=True)
    return out


def shot_noise(x: np.ndarray, rng: np.random.Generator, lam: float) -> np.ndarray:
    """Poisson noise: Poisson(x * lam) / lam."""
    return rng.poisson(x * lam) / float(lam)


def impulse_noise(x: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """skimage's "s&p" noise: each value, with probability `amount`, set to 1 or 0 (1/2 each)."""
    flipped = rng.random(x.shape) < amount
    return np.where(flipped, (rng.random(x.shape) < 0.5).astype(float), x)


def glass_blur(x: np.ndarray, rng: np.random.Generator, sigma: float, max_delta: int,
               iterations: int) -> np.ndarray:
    """Blur, truncate to uint8, swap pixels locally (from the bottom-right corner,
    each with probability 1/2 with the pixel (dy, dx) in [-d, d)^2 away), blur again."""
    n, h, w, c = x.shape
    sr, sc = sigma * h / 28, (sigma * w / 28 if c > 1 else 0.0)  # 2-D: rows axis only
    x = np.floor(_blur(x, sr, sc) * 255.0) / 255.0
    d = max(1, round(max_delta * h / 28))
    rows, cols, images = np.arange(h - d, d, -1), np.arange(w - d, d, -1), np.arange(n)
    for _ in range(iterations):
        coins = rng.random((len(rows), len(cols), n)) < 0.5
        deltas = rng.integers(-d, d, size=(len(rows), len(cols), 2, n))
        for i, r in enumerate(rows):  # sequential: later swaps move swapped pixels
            for j, col in enumerate(cols):
                sel = images[coins[i, j]]
                r2, c2 = r + deltas[i, j, 1, sel], col + deltas[i, j, 0, sel]
                here = x[sel, r, col].copy()
                x[sel, r, col] = x[sel, r2, c2]
                x[sel, r2, c2] = here
    return _blur(x, sr, sc)


def motion_blur(x: np.ndarray, rng: np.random.Generator, radius: float, sigma: float,
                max_angle: float) -> np.ndarray:
    """ImageMagick's motion blur at an angle drawn per image: 2 ceil(radius) + 1 taps,
    tap i weighted exp(-i^2 / 2 sigma^2) at (ceil(i cos a - 1/2), ceil(i sin a - 1/2)),
    edge pixels repeated, truncated to 8 bits as ImageMagick writes wand's PNG."""
    n, h, w, _ = x.shape
    radius, sigma = radius * h / 28, sigma * h / 28
    theta = np.deg2rad(rng.uniform(-max_angle, max_angle, size=n))[:, None]
    taps = np.arange(int(2 * np.ceil(radius) + 1))
    kernel = np.exp(-(taps ** 2) / (2.0 * sigma ** 2))
    off_c = np.ceil(taps * np.cos(theta) - 0.5).astype(int)  # [N, taps]
    off_r = np.ceil(taps * np.sin(theta) - 0.5).astype(int)
    images, rows, cols = np.arange(n)[:, None, None], np.arange(h)[:, None], np.arange(w)
    out = np.zeros_like(x)
    for i, weight in enumerate(kernel / kernel.sum()):
        rr = np.clip(rows + off_r[:, i, None, None], 0, h - 1)
        cc = np.clip(cols + off_c[:, i, None, None], 0, w - 1)
        out += weight * x[images, rr, cc]
    return np.floor(out * 255.0 + 1e-6) / 255.0


def shear(x: np.ndarray, rng: np.random.Generator, shear: float) -> np.ndarray:
    """Shear about the centre by +-`shear` (skimage's AffineTransform(shear=) of 2019)."""
    return _warp_groups(x, rng.choice([-1, 1], size=(len(x), 1)), lambda xs, s: _warp(
        xs, [[1.0, -np.sin(s[0] * shear)], [0.0, np.cos(s[0] * shear)]]))


def scale(x: np.ndarray, rng: np.random.Generator, factor: float) -> np.ndarray:
    """Scale by `factor` about the centre (inverse map scale 1 / factor); no randomness."""
    return _warp(x, np.eye(2) / factor)


def rotate(x: np.ndarray, rng: np.random.Generator, radians: float) -> np.ndarray:
    """Rotate about the centre by +-`radians`."""
    return _warp_groups(x, rng.choice([-1, 1], size=(len(x), 1)), lambda xs, s: _warp(
        xs, [[np.cos(s[0] * radians), -np.sin(s[0] * radians)],
             [np.sin(s[0] * radians), np.cos(s[0] * radians)]]))


def brightness(x: np.ndarray, rng: np.random.Generator, delta_v: float) -> np.ndarray:
    """Add `delta_v` to the HSV value (at most 1), keeping hue and saturation; no randomness."""
    value = x.max(axis=-1, keepdims=True)
    brighter = np.minimum(value + delta_v, 1.0)
    return np.where(value > 0, x * brighter / np.maximum(value, 1e-12), brighter)


def translate(x: np.ndarray, rng: np.random.Generator, pixels: float) -> np.ndarray:
    """Shift by `pixels` along x and along y, the two signs drawn per image."""
    step = pixels * np.array([x.shape[2], x.shape[1]]) / 28  # (x, y)
    return _warp_groups(x, rng.choice([-1, 1], size=(len(x), 2)),
                        lambda xs, s: _warp(xs, np.eye(2), s * step, keep_centre=False))


def stripe(x: np.ndarray, rng: np.random.Generator, columns: int) -> np.ndarray:
    """Invert the `columns` leftmost and rightmost columns; no randomness."""
    k, out = round(columns * x.shape[2] / 28), x.copy()
    out[:, :, :k] = 1.0 - x[:, :, :k]
    out[:, :, x.shape[2] - k:] = 1.0 - x[:, :, x.shape[2] - k:]
    return out


def fog(x: np.ndarray, rng: np.random.Generator, strength: float,
        wibble_decay: float) -> np.ndarray:
    """Add `strength` x a 28 x 28 plasma-fractal crop; rescale by max / (max + strength)."""
    n, h, w, _ = x.shape
    plasma = _plasma(rng, n, wibble_decay)[:, :28, :28]
    if (h, w) != (28, 28):
        plasma = ndimage.zoom(plasma, (1, h / 28, w / 28), order=1)
    top = x.max(axis=(1, 2, 3), keepdims=True)
    return (x + strength * plasma[..., None]) * top / (top + strength)


def spatter(x: np.ndarray, rng: np.random.Generator, loc: float, scale: float, sigma: float,
            threshold: float, mask_sigma: float, mud_gray: float) -> np.ndarray:
    """Blurred N(loc, scale) noise above `threshold`, blurred into a mask (kept
    where >= 0.8) that blends in mud of gray `mud_gray` / 255."""
    n, h, w, _ = x.shape
    sr, sc = h / 28, w / 28
    liquid = _blur(rng.normal(loc, scale, size=(n, h, w)), sigma * sr, sigma * sc)
    mask = _blur((liquid > threshold).astype(float), mask_sigma * sr, mask_sigma * sc)
    mask = np.where(mask < 0.8, 0.0, mask)[..., None]
    return x * (1.0 - mask) + mud_gray / 255.0 * mask


def dotted_line(x: np.ndarray, rng: np.random.Generator, dash: int) -> np.ndarray:
    """Add a line from (0, r0) to (27, r1), r0 and r1 drawn per image, in dashes of
    `dash` columns starting with a gap."""
    n, h, w, _ = x.shape
    r0, r1 = rng.integers(0, 27, size=(2, n))
    layer = _lines(np.zeros(n), r0, np.full(n, 27.0), r1, h, w)
    gaps = np.floor((_grid_28(w) + 0.5) / dash) % 2 == 0
    return x + np.where(gaps, 0.0, layer)[..., None]


def zigzag(x: np.ndarray, rng: np.random.Generator, length: float, width: float) -> np.ndarray:
    """Add a zigzag (segments `length` long, `width` high, MNIST-C's odd last corner
    kept) from column 2 to 25, from a row r0 drawn per image to r0 + [-5, 5)."""
    n, h, w, _ = x.shape
    r0 = rng.integers(0, 27, size=n)
    r1 = r0 + rng.integers(-5, 5, size=n)
    layers = np.empty((n, h, w))
    for i in range(n):  # a handful of segments per image
        theta = np.arctan((r1[i] - r0[i]) / 23.0)
        d = 23.0 / np.cos(theta)  # length of the straight line
        points, r_i = [(0.0, 0.0)], 0.0
        for k in range(int((d - length) // (2 * length)) + 1):
            r_i = (-1) ** k * width
            points.append(((2 * k + 1) * length, r_i))
        max_c = 2 * length * (d // (2 * length))
        if d != max_c:
            points.append((d, r_i / (2 * (d - max_c))))
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        cs, rs = rot @ np.array(points).T + np.array([[2.0], [r0[i]]])
        layers[i] = _lines(cs[:-1], rs[:-1], cs[1:], rs[1:], h, w).sum(axis=0)
    return x + layers[..., None]


def canny_edges(x: np.ndarray, rng: np.random.Generator, sigma: float, low_threshold: float,
                high_threshold: float) -> np.ndarray:
    """The Canny edge map (1 on edges) of skimage.feature.canny: zero-padded smoothing
    renormalised by the smoothed mask, Sobel gradients, border masked out, interpolated
    non-maximum suppression, 8-connected hysteresis; on the luminance if RGB."""
    gray = x[..., 0] if x.shape[-1] == 1 else x @ LUMINANCE
    h, w = gray.shape[1:]
    sigma = sigma * h / 28
    bleed = ndimage.gaussian_filter(np.ones((h, w)), sigma, mode="constant")
    smooth = _blur(gray, sigma, sigma, mode="constant") / (bleed + np.finfo(float).eps)
    d_r, d_c = (ndimage.correlate1d(smooth, [-1.0, 0.0, 1.0], axis=a, mode="reflect")
                for a in (1, 2))  # scipy's sobel over the spatial axes only:
    g_r = ndimage.correlate1d(d_r, [1.0, 2.0, 1.0], axis=2, mode="reflect")  # skimage's isobel
    g_c = ndimage.correlate1d(d_c, [1.0, 2.0, 1.0], axis=1, mode="reflect")  # and jsobel
    mag = np.hypot(g_r, g_c)
    padded = np.pad(mag, ((0, 0), (1, 1), (1, 1)))

    def at(dr, dc):  # the neighbour (r + dr, c + dc)'s magnitude
        return padded[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w]

    rows_major = np.abs(g_r) >= np.abs(g_c)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 only where mag == 0
        diag = np.where(rows_major, np.abs(g_c / g_r), np.abs(g_r / g_c))
    maxima = np.zeros(mag.shape, bool)
    for major in (True, False):  # step along the gradient: axis and diagonal neighbour
        for sign in (1, -1):
            d1, d2 = ((1, 0), (1, sign)) if major else ((0, 1), (sign, 1))
            fwd = (1 - diag) * at(*d1) + diag * at(*d2)
            back = (1 - diag) * at(-d1[0], -d1[1]) + diag * at(-d2[0], -d2[1])
            sel = (rows_major == major) & (np.where(g_r * g_c >= 0, 1, -1) == sign)
            maxima |= sel & (mag > 0) & (fwd <= mag) & (back <= mag)
    maxima[:, [0, -1], :] = maxima[:, :, [0, -1]] = False  # skimage's eroded mask
    within = np.pad(np.ones((1, 3, 3), bool), ((1, 1), (0, 0), (0, 0)))  # 8-connected, per image
    labels, count = ndimage.label(maxima & (mag >= low_threshold), within)
    keep = np.bincount(labels.ravel(), weights=(maxima & (mag >= high_threshold)).ravel(),
                       minlength=count + 1) > 0
    keep[0] = False
    return np.repeat(keep[labels][..., None].astype(float), x.shape[-1], axis=-1)


def _spec(name, params, fn, approximation=None):
    return CorruptionSpec(name, name.replace("_", " "), params, approximation, fn)


CORRUPTIONS: dict[str, CorruptionSpec] = {s.name: s for s in [
    _spec("shot_noise", {"severity": 5, "lam": 3}, shot_noise),
    _spec("impulse_noise", {"severity": 4, "amount": 0.17}, impulse_noise),
    _spec("glass_blur", {"severity": 1, "sigma": 0.7, "max_delta": 1, "iterations": 2},
          glass_blur),
    _spec("motion_blur", {"severity": 1, "radius": 10, "sigma": 3, "max_angle": 45},
          motion_blur, "ImageMagick's MotionBlurImage (via wand) is rewritten in NumPy from "
          "its C source; a few pixels differ from ImageMagick's by one 8-bit level."),
    _spec("shear", {"severity": 2, "shear": 0.4}, shear),
    _spec("scale", {"severity": 3, "factor": 0.7}, scale),
    _spec("rotate", {"severity": 2, "radians": 0.4}, rotate),
    _spec("brightness", {"severity": 5, "delta_v": 0.5}, brightness),
    _spec("translate", {"severity": 3, "pixels": 3}, translate),
    _spec("stripe", {"columns": 7}, stripe),
    _spec("fog", {"severity": 5, "strength": 3.0, "wibble_decay": 1.4}, fog),
    _spec("spatter", {"severity": 4, "loc": 0.65, "scale": 0.3, "sigma": 1, "threshold": 0.65,
                      "mask_sigma": 1.5, "mud_gray": 63}, spatter),
    _spec("dotted_line", {"dash": 2}, dotted_line),
    _spec("zigzag", {"length": 2.0, "width": 2.0}, zigzag),
    _spec("canny_edges", {"sigma": 1.0, "low_threshold": 0.1, "high_threshold": 0.2},
          canny_edges, "skimage.feature.canny is rewritten with scipy.ndimage (same steps "
          "and thresholds), so edges may differ where gradients tie."),
]}


def corruption_names() -> tuple[str, ...]:
    """The corruption names, in MNIST-C's order."""
    return tuple(CORRUPTIONS)


def corrupt(name: str, x, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Corrupts images with one MNIST-C corruption.

    Args:
        name: a key of `CORRUPTIONS` (see `corruption_names()`).
        x: float32 [N, H, W, C] in [0, 1], C = 1 or 3.
        seed: seed of `np.random.default_rng`; same seed and images, same output.
    Returns: (float32 [N, H, W, C] clipped to [0, 1],
        {"name", "title", "params", "approximation", "seed"}).

    Raises:
        LadError: an unknown corruption, or images not [N, H, W, 1 or 3].
    """
    if name not in CORRUPTIONS:
        raise LadError(f"unknown corruption {name!r}; known corruptions: "
                       f"{', '.join(CORRUPTIONS)}")
    spec = CORRUPTIONS[name]
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise LadError(f"corruptions take images [N, H, W, C], C = 1 or 3, not {x.shape}")
    x64 = np.clip(x.astype(np.float64), 0.0, 1.0)
    kwargs = {k: v for k, v in spec.params.items() if k != "severity"}
    out = spec.fn(x64, np.random.default_rng(seed), **kwargs) if len(x) else x64
    info = {"name": spec.name, "title": spec.title, "params": dict(spec.params),
            "approximation": spec.approximation, "seed": seed}
    return np.clip(out, 0.0, 1.0).astype(np.float32), info

