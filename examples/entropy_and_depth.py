"""Dataset entropy next to the receptive-field border: two views on how deep a CNN should be.

Builds a few CIFAR-like synthetic datasets (32x32 RGB, uint8), measures their
entropy with :mod:`rfa_fast.entropy`, and analyzes VGG-style chains at 32 px
with :func:`rfa_fast.analyze`, printing the border layer and the number of
unproductive layers of each.  The two answer different questions:

- the border is a hard geometric limit of the *network at this resolution*:
  past it, layers see no more of the image than the layer before could, so
  they cannot add spatial context whatever the data;
- entropy is a *data-side* indicator (Gowdra et al. 2021 relate it to useful
  depth).  Their mapping from entropy to a depth bound is not reproduced in
  rfa_fast, so none is computed here: pass your own ``depth_bound`` function
  (``Callable[[EntropyResult], int]``) to ``report`` to see it next to the border.

Run (from the repository root; ``PYTHONPATH=.`` is only needed when rfa_fast is
built in place rather than installed):

    PYTHONPATH=. python examples/entropy_and_depth.py
"""

from __future__ import annotations

import textwrap

import numpy as np

import rfa_fast
from rfa_fast.entropy import DepthBound, EntropyResult, dataset_entropy

SIZE = 32
N_IMAGES = 256
# Convolutions per stage; every stage ends with a 2x2/2 max pool (VGG on CIFAR).
CHAINS = {"vgg11": [1, 1, 2, 2, 2], "vgg13": [2, 2, 2, 2, 2], "vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}


def datasets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Synthetic datasets [N, 32, 32, 3] uint8 with very different intensity histograms."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    n = N_IMAGES
    flat = np.broadcast_to(rng.integers(0, 256, (n, 1, 1, 3), dtype=np.uint8), (n, SIZE, SIZE, 3))

    # Grey blobs posterized to 4 levels: at most 2 bits whatever the layout of the blobs.
    phase = rng.uniform(0, 2 * np.pi, (n, 2, 1, 1))
    freq = rng.uniform(1, 3, (n, 2, 1, 1))
    field = np.sin(freq[:, 0] * 2 * np.pi * xx + phase[:, 0]) + np.sin(freq[:, 1] * 2 * np.pi * yy + phase[:, 1])
    levels = np.digitize(field, [-1.0, 0.0, 1.0]).astype(np.uint8) * 85
    blobs = np.repeat(levels[..., None], 3, axis=3)

    # Linear ramps in a random direction over 64..192 levels, tinted per channel.
    theta = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    ramp = np.cos(theta) * xx + np.sin(theta) * yy
    ramp = (ramp - ramp.min(axis=(1, 2), keepdims=True)) / np.ptp(ramp, axis=(1, 2), keepdims=True)
    span = rng.uniform(64, 192, (n, 1, 1, 1))
    base = rng.uniform(0, 255 - span, (n, 1, 1, 3))
    gradients = (base + span * ramp[..., None] * rng.uniform(0.5, 1.0, (n, 1, 1, 3))).astype(np.uint8)

    # The same pixels in random places: identical histograms, no spatial structure left.
    perm = rng.permuted(np.arange(SIZE * SIZE)[None].repeat(n, 0), axis=1)
    shuffled = np.take_along_axis(gradients.reshape(n, -1, 3), perm[..., None], axis=1).reshape(gradients.shape)

    noise = rng.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)
    return {
        "flat colour": flat,
        "posterized blobs": blobs,
        "smooth gradients": gradients,
        "gradients, shuffled": shuffled,
        "uniform noise": noise,
    }


def chain(name: str, stages: list[int]) -> rfa_fast.Graph:
    """A VGG-style chain: 3x3 convs (pad 1), a 2x2/2 max pool after each stage, global pool, classifier."""
    b = rfa_fast.GraphBuilder(name)
    x = b.input("x")
    k = 0
    for s, n_conv in enumerate(stages, start=1):
        for _ in range(n_conv):
            k += 1
            x = b.conv(x, 3, pad=1, name=f"conv{k}")
        x = b.pool(x, 2, 2, name=f"pool{s}", op="maxpool")
    x = b.global_pool(x, name="gap")
    b.dense(x, name="fc")
    return b.build()


def report(depth_bound: DepthBound | None = None, seed: int = 0) -> None:
    """Print the entropy table, the border table, and how to read them together."""
    results: dict[str, EntropyResult] = {
        name: dataset_entropy(data, progress=False) for name, data in datasets(np.random.default_rng(seed)).items()
    }
    print(f"Dataset entropy ({N_IMAGES} images each, {SIZE}x{SIZE} RGB; bits of the 256-level histogram)")
    print(f"  {'dataset':<20} {'luminance':>9} {'± std':>6} {'median':>7} {'R/G/B mean':>17}  depth bound")
    for name, r in results.items():
        rgb = "/".join(f"{m:.2f}" for m in r.per_channel_mean)
        bound = str(depth_bound(r)) if depth_bound is not None else "-"
        print(f"  {name:<20} {r.mean:>9.3f} {r.std:>6.3f} {r.quantiles[0.5]:>7.3f} {rgb:>17}  {bound}")

    print(f"\nReceptive-field border at {SIZE} px (VGG-style chains, 3x3 convs, 2x2/2 pools)")
    print(f"  {'model':<6} {'convs':>5}  {'border':<7} {'unproductive':>12} {'useful convs':>12}  I_min")
    useful: dict[str, tuple[int, int]] = {}
    for name, stages in CHAINS.items():
        rep = rfa_fast.analyze(chain(name, stages), SIZE)
        n_conv = sum(stages)
        useful[name] = (n_conv, n_conv - sum(1 for layer in rep.unproductive if layer.startswith("conv")))
        border = ", ".join(rep.summary["border_layers"]) or "none"
        print(
            f"  {name:<6} {n_conv:>5}  {border:<7} {rep.summary['n_unproductive']:>12} "
            f"{useful[name][1]:>12}  {rep.summary['i_min'][0]:g} px"
        )
    most = max(u for _, u in useful.values())
    first = min((n, name) for name, (n, u) in useful.items() if u == most)
    deeper = " and ".join(f"{n - u} of {name}'s {n} convolutions" for name, (n, u) in useful.items() if n > first[0])
    border_text = textwrap.fill(
        f"- The border is a hard geometric limit of the network at {SIZE} px. Layers past it (the unproductive "
        f"ones) cannot add spatial context, whatever the data: {first[1]} already has {most} useful convolutions, "
        f"and deeper chains add none ({deeper} are past the border). To use more layers, change the downsampling "
        "or the resolution (I_min: the smallest input with no unproductive layer).",
        width=80,
        subsequent_indent="  ",
    )

    print(
        f"""
How the two inform depth:
{border_text}
- Entropy is a data-side indicator: it says how much intensity information an
  image carries (0 bits for a flat image, up to 8). Gowdra et al. (2021) use it
  to bound useful depth, but their mapping is not available in rfa_fast, so the
  'depth bound' column is empty unless you supply one:
      report(depth_bound=my_bound)   # my_bound: Callable[[EntropyResult], int]
- Histogram entropy ignores where pixels are: 'smooth gradients' and
  'gradients, shuffled' have the same entropy, yet only the first has spatial
  structure for deep layers to build on. Read entropy as one signal about the
  data, and the border as a limit on the network; neither replaces the other."""
    )


if __name__ == "__main__":
    report()
