"""Image classification data for the CNN chapter (paper Sec. 5, App. C.8): CIFAR-10 or Fashion-MNIST.

``load("auto")`` takes CIFAR-10 when its python-pickle batches are in ``data/cifar-10-batches-py``
(the official archive, unpacked; the project's one pickle format, read only from the data folder
and by an unpickler that builds nothing but dicts, lists, strings and numpy arrays), else the
real Fashion-MNIST that ``make data`` unpacks from Debian's ``dataset-fashion-mnist`` package,
padded to 32x32 and repeated to 3 channels so that the same networks apply. ``load("hub")``
reads ``uoft-cs/cifar10`` from the Hugging Face hub (needs ``datasets`` and a network). The
returned ``Images`` names its dataset: a chapter must say which one ran.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import settings
from .mnist import _idx

SOURCES = ("auto", "cifar10", "fashion", "hub")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                   "bag", "ankle boot")
FASHION_DIR = Path("debian") / "usr" / "share" / "datasets" / "fashion-mnist"


@dataclass(frozen=True)
class Images:
    """Images as compact ``uint8 [n, channels, 32, 32]`` tensors (see :func:`as_float`) with labels,
    the class names and the dataset's name."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: tuple[str, ...]
    name: str


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a planted payload cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch")
        return super().find_class(module, name)


def _cifar(base: Path) -> Images | None:
    folder = base / "cifar-10-batches-py"
    if not (folder / "test_batch").is_file():
        return None

    def read(names):
        xs, ys = [], []
        for n in names:
            with open(folder / n, "rb") as f:
                try:
                    d = _ArrayUnpickler(f, encoding="bytes").load()
                except (pickle.UnpicklingError, EOFError, ValueError) as e:
                    raise ValueError(f"{folder / n} is not a CIFAR-10 python batch: {e}") from None
            xs.append(np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[b"labels"], np.int64))
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
    return Images(*read([f"data_batch_{i}" for i in range(1, 6)]), *read(["test_batch"]),
                  CIFAR10_CLASSES, "CIFAR-10")


def _fashion(base: Path) -> Images | None:
    folder = base / FASHION_DIR
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
    if not all((folder / n).is_file() for n in names):
        return None
    xtr, ytr, xte, yte = (_idx(folder / n) for n in names)

    def img(a):  # 28x28 grey -> 32x32 (zero padding); as_float repeats it to 3 channels
        return F.pad(torch.from_numpy(a.copy()).unsqueeze(1), (2, 2, 2, 2))
    return Images(img(xtr), torch.from_numpy(ytr.astype(np.int64)), img(xte),
                  torch.from_numpy(yte.astype(np.int64)), FASHION_CLASSES,
                  "Fashion-MNIST (Debian dataset-fashion-mnist), padded to 32x32, 3 channels")


def _hub() -> Images:
    try:
        from datasets import load_dataset
    except ImportError as err:
        raise RuntimeError("source='hub' needs the `datasets` package (pip install datasets)") from err
    ds = load_dataset("uoft-cs/cifar10")

    def split(name):
        part = ds[name].with_format("numpy")
        x = np.ascontiguousarray(np.stack(part["img"]).astype(np.uint8).transpose(0, 3, 1, 2))
        return torch.from_numpy(x), torch.from_numpy(np.asarray(part["label"], np.int64))
    return Images(*split("train"), *split("test"), CIFAR10_CLASSES, "CIFAR-10 (Hugging Face hub)")


def load(source: str = "auto", data: Path | None = None) -> Images:
    """The images from ``source`` (one of ``SOURCES``); ``auto``: CIFAR-10 if on disk, else Fashion-MNIST."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    base = Path(data) if data is not None else settings.data_dir()
    if source == "hub":
        return _hub()
    found = _cifar(base) if source in ("auto", "cifar10") else None
    if found is None and source in ("auto", "fashion"):
        found = _fashion(base)
    if found is None:
        raise FileNotFoundError(
            f"no images for source={source!r} under {base}: unpack the CIFAR-10 python archive "
            f"(cifar-10-python.tar.gz) into {base} so that {base / 'cifar-10-batches-py'} exists, or run "
            f"`make data` to unpack Debian's dataset-fashion-mnist into {base / 'debian'}, or use "
            "source='hub' when online")
    return found


def as_float(x: Tensor) -> Tensor:
    """``uint8 [n, c, H, W]`` images as float32 in [0, 1] with 3 channels (grey ones repeated)."""
    x = x.float().div_(255)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def augment(x: Tensor, generator: torch.Generator, pad: int = 4) -> Tensor:
    """Random crop of the image zero-padded by ``pad`` on each side, then a random horizontal flip, both
    drawn per image from ``generator`` (App. C.8.3; the authors' torchvision RandomCrop(32, padding=4) and
    RandomHorizontalFlip): ``[n, c, H, W] -> [n, c, H, W]``, any dtype (uint8 before :func:`as_float` is
    cheapest)."""
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images [n, channels, H, W], got shape {tuple(x.shape)}")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad must be an integer >= 0, got {pad!r}")
    n, _, h, w = x.shape
    top, left = torch.randint(0, 2 * pad + 1, (2, n), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    # every (H, W) window of the padded images as a view [n, c, 2 pad + 1, 2 pad + 1, H, W]; pick one per image
    windows = F.pad(x, (pad,) * 4).unfold(2, h, 1).unfold(3, w, 1)
    out = windows[torch.arange(n), :, top, left]
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def without_classes(y: Tensor, removed: tuple[int, ...]) -> Tensor:
    """Indices of the examples whose label is not in ``removed`` (a mask's training set in Sec. 5)."""
    return torch.nonzero(~torch.isin(y, torch.tensor(removed, dtype=y.dtype))).flatten()
