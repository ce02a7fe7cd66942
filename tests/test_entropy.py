"""rfa_fast.entropy: exact values on images of known entropy, layouts, value ranges, streaming, bad inputs."""

from __future__ import annotations

import doctest
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import package_env

import rfa_fast.entropy as ent
from rfa_fast.entropy import EntropyError, EntropyResult, dataset_entropy, image_entropy
from rfa_fast.errors import RfaError

ROOT = Path(__file__).resolve().parents[1]
RES = ent.QUANTILE_RESOLUTION


def mixed_dataset(n: int = 60, seed: int = 1) -> np.ndarray:
    """[n, 12, 10, 3] uint8 images spanning 0..8 bits: each image uses 2**k random levels (k = 0..8)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 12, 10, 3), np.uint8)
    for i in range(n):
        k = i % 9
        palette = rng.choice(256, size=2**k, replace=False).astype(np.uint8)
        out[i] = palette[rng.integers(0, 2**k, size=(12, 10, 3))]
    return out


def exact_luminance_entropies(data: np.ndarray) -> np.ndarray:
    return np.array([image_entropy(img)["luminance"] for img in data])


# --- exact values ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "img",
    [np.zeros((8, 8), np.uint8), np.full((5, 7, 3), 200, np.uint8), np.full((4, 6, 6), 0.3), np.ones((1, 9, 9))],
    ids=["grey", "hwc", "chw-rgba-float", "1hw-float"],
)
def test_constant_image_is_zero_bits(img: np.ndarray) -> None:
    h = image_entropy(img)
    assert h["luminance"] == 0.0 and all(v == 0.0 for v in h["channels"])
    assert math.copysign(1.0, h["luminance"]) == 1.0  # +0.0, not -0.0


def test_uniform_over_256_levels_is_exactly_8_bits() -> None:
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert image_entropy(grey) == {"luminance": 8.0, "channels": [8.0], "layout": "HW"}
    # Each level 4 times, shuffled; and a colour image whose channels are permutations (R=G=B keeps Y uniform).
    rng = np.random.default_rng(0)
    four = rng.permutation(np.repeat(np.arange(256, dtype=np.uint8), 4)).reshape(32, 32)
    assert image_entropy(four)["luminance"] == 8.0
    colour = np.stack([four, four, four], axis=-1)
    assert image_entropy(colour) == {"luminance": 8.0, "channels": [8.0, 8.0, 8.0], "layout": "HWC"}
    r = dataset_entropy(np.stack([grey, grey]), progress=False)
    assert (r.mean, r.std, r.min, r.max) == (8.0, 0.0, 8.0, 8.0)
    assert all(v == 8.0 for v in r.quantiles.values())


def test_two_equiprobable_levels_is_1_bit() -> None:
    img = np.zeros((6, 6), np.uint8)
    img[:, :3] = 255
    assert image_entropy(img)["luminance"] == 1.0
    assert image_entropy(img.astype(np.float64) / 255)["luminance"] == 1.0
    # Four equiprobable levels: 2 bits; unequal p = (3/4, 1/4): the textbook value.
    img4 = np.repeat(np.array([0, 60, 120, 180], np.uint8), 9).reshape(6, 6)
    assert image_entropy(img4)["luminance"] == 2.0
    skew = np.array([[0, 0, 0, 9]], np.uint8)
    assert image_entropy(skew)["luminance"] == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))


def test_luminance_uses_bt601_weights_rounded() -> None:
    # Pure blue (0, 0, 255) has Y = 0.114 * 255 = 29.07 -> level 29, the same as grey 29: Y is constant.
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2] = (0, 0, 255)
    img[2:] = (29, 29, 29)
    h = image_entropy(img)
    assert h["luminance"] == 0.0 and h["channels"] == [1.0, 1.0, 1.0]
    # R = 1 gives Y = 0.299 -> 0 and R = 2 gives 0.598 -> 1 (rounded, not truncated).
    red = np.zeros((1, 4, 3), np.uint8)
    red[0, :2, 0] = 1
    assert image_entropy(red)["luminance"] == 0.0
    red[0, :2, 0] = 2
    assert image_entropy(red)["luminance"] == 1.0
    # RGBA: alpha counts as a channel but not in the luminance.
    rgba = np.concatenate([img, np.arange(16, dtype=np.uint8).reshape(4, 4, 1)], axis=-1)
    h = image_entropy(rgba)
    assert h["luminance"] == 0.0 and h["channels"] == [1.0, 1.0, 1.0, 4.0]


# --- layouts and value ranges ---------------------------------------------------------------------------------------


def test_layouts_give_the_same_numbers() -> None:
    data = mixed_dataset(18)
    hwc = dataset_entropy(data, progress=False)
    chw = dataset_entropy(np.ascontiguousarray(data.transpose(0, 3, 1, 2)), progress=False)
    listed = dataset_entropy(list(data.transpose(0, 3, 1, 2)), progress=False)
    assert (hwc.layout, chw.layout, listed.layout) == ("HWC", "CHW", "CHW")
    assert chw.mean == hwc.mean and chw.std == hwc.std and chw.per_channel_mean == hwc.per_channel_mean
    assert chw.quantiles == hwc.quantiles
    assert_same_stats(listed, hwc)  # one image at a time: the same up to summation order
    for img in data[:9]:
        a = image_entropy(img)
        assert image_entropy(img.transpose(2, 0, 1))["channels"] == a["channels"]
        assert image_entropy(img.transpose(2, 0, 1))["luminance"] == a["luminance"]
    # Grey content: HW, HW1, 1HW and RGB with R = G = B all agree.
    grey = data[..., 0]
    ref = dataset_entropy(grey, progress=False)
    assert ref.layout == "HW" and ref.channels == 1 and ref.n_images == 18
    for form in (grey[..., None], grey[:, None], np.repeat(grey[..., None], 3, axis=-1)):
        r = dataset_entropy(form, progress=False)
        assert r.mean == ref.mean and r.std == ref.std and r.quantiles == ref.quantiles
        assert all(m == ref.mean for m in r.per_channel_mean)


def test_layout_detection_and_override() -> None:
    assert image_entropy(np.zeros((3, 3, 3)))["layout"] == "HWC"  # ambiguous: HWC by default
    assert image_entropy(np.zeros((3, 3, 3)), layout="CHW")["layout"] == "CHW"
    assert image_entropy(np.zeros((3, 8, 8)))["layout"] == "CHW"
    # A 3-D array with no channel axis is a batch of grey images; layout="HW" forces that reading.
    assert dataset_entropy(np.zeros((10, 28, 28), np.uint8), progress=False).n_images == 10
    r = dataset_entropy(np.zeros((3, 28, 28), np.uint8), layout="hw", progress=False)
    assert (r.n_images, r.layout) == (3, "HW")
    assert dataset_entropy(np.zeros((3, 28, 28), np.uint8), progress=False).n_images == 1  # one CHW image
    # The 3x3x3 image: per channel entropies follow the chosen channel axis.
    img = np.zeros((3, 3, 3), np.uint8)
    img[0] = 255  # plane 0 of a CHW image; row 0 of an HWC image
    assert image_entropy(img, layout="CHW")["channels"] == [0.0, 0.0, 0.0]
    assert image_entropy(img)["channels"] == [pytest.approx(0.9182958340544896)] * 3


def test_float_in_unit_range_equals_uint8() -> None:
    data = mixed_dataset(27)
    ref = dataset_entropy(data, progress=False)
    assert ref.value_range == (0.0, 255.0)
    for dtype in (np.float32, np.float64):
        r = dataset_entropy((data / 255).astype(dtype), progress=False)
        assert r.value_range == (0.0, 1.0)
        assert (r.mean, r.std, r.quantiles, r.per_channel_mean) == (
            ref.mean,
            ref.std,
            ref.quantiles,
            ref.per_channel_mean,
        )
    # Floats holding 0..255 (max > 1), explicit ranges, and other integer dtypes within 0..255.
    same = [
        dataset_entropy(data.astype(np.float32), progress=False),
        dataset_entropy(data, value_range=(0, 255), progress=False),
        dataset_entropy(data.astype(np.float64) / 127.5 - 1.0, value_range=(-1, 1), progress=False),
        dataset_entropy(data.astype(np.int64), progress=False),
        dataset_entropy(data.astype(np.uint16) * 257, value_range=(0, 65535), progress=False),
    ]
    for r in same:
        assert (r.mean, r.std, r.per_channel_mean) == (ref.mean, ref.std, ref.per_channel_mean)
    for img in data[:9]:
        assert image_entropy(img.astype(np.float32) / 255) == image_entropy(img)


def test_explicit_range_bins_and_clips() -> None:
    # [0, 1] in 256 equal bins: 0.5 is level 128, 1.0 the last level, and values outside an explicit range clip.
    x = np.array([[0.0, 0.5, 1.0, 2.0]])
    assert image_entropy(x, value_range=(0, 1))["luminance"] == 1.5  # levels 0, 128, 255, 255
    assert image_entropy(np.array([[-5.0, 0.0, 0.2, 0.9]]), value_range=(0, 1))["luminance"] == 1.5
    # bool images are the levels 0 and 1.
    assert image_entropy(np.eye(2, dtype=bool))["luminance"] == 1.0


# --- streaming ------------------------------------------------------------------------------------------------------


def assert_same_stats(a: EntropyResult, b: EntropyResult, exact_q: np.ndarray | None = None) -> None:
    assert a.n_images == b.n_images
    assert a.mean == pytest.approx(b.mean, abs=1e-9) and a.std == pytest.approx(b.std, abs=1e-9)
    assert np.allclose(a.per_channel_mean, b.per_channel_mean, atol=1e-9, rtol=0)
    assert np.allclose(a.per_channel_std, b.per_channel_std, atol=1e-9, rtol=0)
    assert (a.min, a.max) == (b.min, b.max)
    for q in a.quantiles:
        assert abs(a.quantiles[q] - b.quantiles[q]) <= RES
        if exact_q is not None:
            assert abs(a.quantiles[q] - np.quantile(exact_q, q)) <= RES


def test_streaming_equals_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = mixed_dataset(90)
    exact = exact_luminance_entropies(data)
    qs = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
    ref = dataset_entropy(data, quantiles=qs, progress=False)
    assert ref.mean == pytest.approx(exact.mean(), abs=1e-12) and ref.std == pytest.approx(exact.std(), abs=1e-12)
    assert (ref.min, ref.max) == (exact.min(), exact.max()) == (ref.quantiles[0.0], ref.quantiles[1.0])
    assert_same_stats(ref, ref, exact)

    np.save(tmp_path / "all.npy", data)
    for i, part in enumerate(np.array_split(data, 4)):
        np.save(tmp_path / f"part{i}.npy", part)
    (tmp_path / "parts").mkdir()
    for f in tmp_path.glob("part*.npy"):
        f.rename(tmp_path / "parts" / f.name)
    streams = {
        "single images": lambda: iter(data),
        "uneven batches": lambda: (b for b in np.array_split(data, [1, 7, 40, 41])),
        "memmap": lambda: np.load(tmp_path / "all.npy", mmap_mode="r"),
        "npy file": lambda: tmp_path / "all.npy",
        "npy directory": lambda: str(tmp_path / "parts"),
    }
    # Tiny chunks: the memory-mapped array is read 5 images at a time (and a row band at a time below).
    monkeypatch.setattr(ent, "CHUNK_VALUES", 5 * 12 * 10 * 3)
    for name, make in streams.items():
        r = dataset_entropy(make(), quantiles=qs, progress=False)
        assert r.layout == "HWC", name
        assert_same_stats(r, ref, exact)
    one = image_entropy(data[8])
    monkeypatch.setattr(ent, "CHUNK_VALUES", 100)  # smaller than one image: its rows are read in bands
    assert_same_stats(dataset_entropy(data, quantiles=qs, progress=False), ref, exact)
    assert image_entropy(data[8]) == one


def test_quantiles_track_exact_within_resolution() -> None:
    # Spread-out values: 400 images with 1..400 distinct levels (of 400 pixels) hit many histogram bins.
    rng = np.random.default_rng(3)
    imgs = [rng.permutation(np.arange(400) % k).astype(np.uint8).reshape(20, 20) for k in range(1, 257)]
    exact = exact_luminance_entropies(np.stack(imgs))
    qs = tuple(np.linspace(0, 1, 41))
    r = dataset_entropy(iter(imgs), quantiles=qs, progress=False)
    for q in qs:
        assert abs(r.quantiles[q] - np.quantile(exact, q)) <= RES
    assert RES < 0.001


def test_result_to_dict_and_str() -> None:
    r = dataset_entropy(mixed_dataset(9), progress=False)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["n_images"] == 9 and d["layout"] == "HWC" and d["channels"] == 3
    assert set(d["quantiles"]) == {"0.05", "0.25", "0.5", "0.75", "0.95"}
    assert d["luminance_mean"] == d["mean"] == r.mean and len(d["per_channel_mean"]) == 3
    text = str(r)
    assert "9 images" in text and "luminance" in text and "50% " in text and "bits" in text


# --- progress -------------------------------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = mixed_dataset(20)
    dataset_entropy(data, progress=True)
    err = capsys.readouterr().err
    assert "entropy" in err and "20/20" in err and "100%" in err and "img/s" in err
    dataset_entropy(iter(data), progress=True)  # no total known: a counter
    assert "20img" in capsys.readouterr().err.replace(" ", "")
    dataset_entropy(data, progress=False)
    dataset_entropy(data)  # auto: stderr is not a TTY under pytest
    assert capsys.readouterr().err == ""
    # Auto on a TTY: quiet for a short run (tqdm's delay), drawn once the run lasts.
    monkeypatch.setattr("sys.stderr", FakeTTY())
    dataset_entropy(data)
    assert sys.stderr.getvalue() == ""
    monkeypatch.setattr("rfa_fast._progress.AUTO_DELAY", 0.0)
    dataset_entropy(data)
    assert "20/20" in sys.stderr.getvalue()


# --- bad inputs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.zeros(16, np.uint8), {}, r"\(16,\) \(1-D\).*2 to 4 axes"),
        (np.zeros((2, 2, 8, 8, 3), np.uint8), {}, r"5-D"),
        (np.zeros((0, 8, 8, 3), np.uint8), {}, r"no image or no pixel"),
        (np.zeros((4, 0, 3), np.uint8), {}, r"no image or no pixel"),
        ([], {}, r"dataset is empty"),
        (iter([]), {}, r"dataset is empty"),
        (np.full((4, 4), "a"), {}, r"dtype <U1.*numeric"),
        (np.zeros((4, 4), complex), {}, r"complex128.*numeric"),
        (np.array([[0.5, np.nan], [0.1, 0.2]]), {}, r"NaN"),
        (np.array([[0.5, np.inf], [0.1, 0.2]]), {}, r"infinite"),
        (np.array([[0.5, np.nan]]), {"value_range": (0, 1)}, r"NaN"),
        (np.array([[-0.5, 0.5]]), {}, r"\[-0.5, 0.5\].*value_range"),
        (np.array([[0, 300]], np.int32), {}, r"0\.\.300.*value_range"),
        (np.zeros((2, 8, 8, 5), np.uint8), {}, r"channel axis of size 1, 3 or 4"),
        (np.zeros((8, 8, 5), np.uint8), {"layout": "HWC"}, r"5 channels; 1 \(grey\), 3 \(RGB\) or 4"),
        (np.zeros((8, 8), np.uint8), {"layout": "NHWC"}, r"layout must be one of"),
        (np.zeros((8, 8), np.uint8), {"layout": "HWC"}, r"layout 'HWC' means 3-D"),
        (np.zeros((8, 8), np.uint8), {"value_range": (1, 1)}, r"lo < hi"),
        (np.zeros((8, 8), np.uint8), {"value_range": "ab"}, r"pair \(lo, hi\)"),
        (np.zeros((8, 8), np.uint8), {"quantiles": (0.5, 2)}, r"quantiles must lie in \[0, 1\]"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)], {}, r"item 1 .*1 channel.*item 0 had 3"),
        ([np.zeros((4, 4)), np.full((4, 4), 9.0)], {}, r"item 1 holds floats up to 9.*item 0.*\[0, 1\]"),
        ([np.zeros((2, 2)), "x"], {}, r"item 1 .*(dtype|2 to 4 axes)"),
        ([np.zeros((4, 4), np.uint8), np.zeros((4, 4))], {}, r"item 1 holds floats \(float64\).*item 0 held integers"),
        ("/nonexistent/images.npy", {}, r"neither a .npy file nor a directory"),
        (3.5, {}, r"0-D|cannot measure"),
        (object(), {}, r"cannot measure a object"),
    ],
)
def test_bad_inputs_raise_entropy_error(data: object, kwargs: dict, match: str) -> None:
    with pytest.raises(EntropyError, match=match) as info:
        dataset_entropy(data, progress=False, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, RfaError) and isinstance(info.value, ValueError)


def test_bad_inputs_to_image_entropy(tmp_path: Path) -> None:
    with pytest.raises(EntropyError, match=r"batch of 10 HW images: image_entropy takes one image"):
        image_entropy(np.zeros((10, 28, 28)))
    with pytest.raises(EntropyError, match=r"batch of 2 HWC images"):
        image_entropy(np.zeros((2, 8, 8, 3)), layout="HWC")
    with pytest.raises(EntropyError, match=r"layout 'CHW' means 3-D for one image or 4-D for a batch"):
        image_entropy(np.zeros((8, 8)), layout="CHW")
    with pytest.raises(EntropyError, match=r"not an array of pixel values"):
        image_entropy([[0, 1], [2]])
    with pytest.raises(EntropyError, match=r"holds no .npy file"):
        dataset_entropy(tmp_path, progress=False)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(EntropyError, match=r"objects.npy' as a .npy file"):
        dataset_entropy(tmp_path / "objects.npy", progress=False)
    (tmp_path / "objects.npy").write_bytes(b"not a numpy file")
    with pytest.raises(EntropyError, match=r"objects.npy' as a .npy file"):
        dataset_entropy(tmp_path, progress=False)


def test_stream_of_grey_batches_with_a_short_last_batch() -> None:
    # A last batch of 3 grey images reads as one CHW image: refused loudly, and layout="HW" says what is meant.
    batches = [np.zeros((8, 5, 5), np.uint8), np.zeros((3, 5, 5), np.uint8)]
    with pytest.raises(EntropyError, match=r"item 1 \(shape \(3, 5, 5\)\) was read as CHW.*layout='HW'"):
        dataset_entropy(batches, progress=False)
    assert dataset_entropy(batches, layout="HW", progress=False).n_images == 11


def test_input_is_never_modified() -> None:
    data = mixed_dataset(9).astype(np.float32) / 255
    before = data.copy()
    dataset_entropy(data, progress=False)
    dataset_entropy(data, value_range=(0, 1), progress=False)
    image_entropy(data[0])
    assert np.array_equal(data, before)


# --- docs and example -----------------------------------------------------------------------------------------------


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(ent, optionflags=doctest.ELLIPSIS)
    assert tried > 10 and failures == 0


def test_example_script_runs() -> None:
    env = package_env()  # the rfa_fast the tests import, not the bare source tree
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "entropy_and_depth.py")],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    ).stdout  # fmt: skip
    for text in ("Dataset entropy", "uniform noise", "Receptive-field border at 32 px", "vgg16", "conv7",
                 "hard geometric limit", "data-side indicator", "not available", "depth_bound"):  # fmt: skip
        assert text in out, text
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  flat")}
    assert rows["flat"][2] == "0.000"  # a flat colour image has 0 bits
    assert "EBCLE" not in out  # no bound is called EBCLE's
