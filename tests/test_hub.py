"""Every ``source="hub"`` path reads through ``datasets``; offline, from local copies in the hub's format,
and gives what the module's other sources give for the same content."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before datasets is imported: no test touches the network
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import gzip  # noqa: E402
import pickle  # noqa: E402

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from weightmask.tasks import hub, images, mathematics, mnist, scan  # noqa: E402


def _local(monkeypatch, tmp_path, dd, expected_name):
    """``datasets.load_dataset`` answering ``expected_name`` with ``dd`` saved to disk and loaded back."""
    dd.save_to_disk(str(tmp_path / "hub"))
    calls = []

    def load_dataset(name, *args, **kw):
        calls.append(name)
        assert name == expected_name
        return datasets.load_from_disk(str(tmp_path / "hub"))
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def _idx_file(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_from_the_hub_equals_the_idx_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = {s: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for s, n in (("train", 6), ("test", 4))}
    y = {s: rng.integers(0, 10, len(x[s])) for s in x}
    (tmp_path / "mnist").mkdir()
    for s, stem in (("train", "train"), ("test", "t10k")):
        _idx_file(tmp_path / "mnist" / f"{stem}-images-idx3-ubyte.gz", x[s])
        _idx_file(tmp_path / "mnist" / f"{stem}-labels-idx1-ubyte.gz", y[s])
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=10)})
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict(
        {"image": [Image.fromarray(a) for a in x[s]], "label": y[s].tolist()}, features=features) for s in x})
    calls = _local(monkeypatch, tmp_path, dd, "ylecun/mnist")
    got, want = mnist.load("hub", data=tmp_path), mnist.load("idx", data=tmp_path)
    assert calls == ["ylecun/mnist"] and "hub" in got.source
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(got, field), getattr(want, field)), field


def test_cifar10_from_the_hub_equals_the_python_batches(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    parts = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = rng.integers(0, 256, (2, 3072), dtype=np.uint8), rng.integers(0, 10, 2).tolist()
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}))
        parts.setdefault("test" if name == "test_batch" else "train", []).append((data, labels))
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=list(
        images.CIFAR10_CLASSES))})

    def split(batches):
        data = np.concatenate([d for d, _ in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return datasets.Dataset.from_dict({"img": [Image.fromarray(a) for a in data],
                                           "label": [v for _, ls in batches for v in ls]}, features=features)
    calls = _local(monkeypatch, tmp_path, datasets.DatasetDict({s: split(b) for s, b in parts.items()}),
                   "uoft-cs/cifar10")
    got, want = images.load("hub", data=tmp_path), images.load("cifar10", data=tmp_path)
    assert calls == ["uoft-cs/cifar10"] and got.classes == want.classes == images.CIFAR10_CLASSES
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(got, field), getattr(want, field)), field


def test_scan_from_the_hub_equals_the_grammars_split(tmp_path, monkeypatch):
    train, test = scan.load_split("addprim_turn_left")
    train, test = train[::500], test[::50]
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict({"commands": [c for c, _ in p],
                                                              "actions": [a for _, a in p]})
                               for s, p in (("train", train), ("test", test))})
    dd.save_to_disk(str(tmp_path / "scan"))
    assert hub.scan_split("addprim_turn_left", path=tmp_path / "scan") == (train, test)
    seen = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **kw: seen.append((a, kw)) or dd)
    assert hub.scan_split("addprim_turn_left") == (train, test)
    assert seen == [((hub.SCAN_HUB, "addprim_turn_left"), {"split": None})]
    with pytest.raises(ValueError, match="unknown SCAN split"):
        hub.scan_split("jump")


def test_mathematics_from_the_hub_takes_its_difficultys_third_distinct(tmp_path, monkeypatch):
    rows = {d: [(f"{d} q{i % 4}\n", f"{i}\n") for i in range(6)] for d in mathematics.DIFFICULTIES}
    ds = datasets.Dataset.from_dict({"question": [q for d in rows for q, _ in rows[d]],
                                     "answer": [a for d in rows for _, a in rows[d]]})
    ds.save_to_disk(str(tmp_path / "math"))
    task = "comparison__sort"
    got = mathematics.hub(task, "medium", 4, path=tmp_path / "math")
    assert got == [(f"medium q{i}", f"{i}") for i in range(4)]
    with pytest.raises(ValueError, match="fewer than n=5"):
        mathematics.hub(task, "hard", 5, path=tmp_path / "math")
    seen = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **kw: seen.append((a, kw)) or ds)
    assert mathematics.hub(task, "easy", 2) == [("easy q0", "0"), ("easy q1", "1")]
    assert seen == [((mathematics.HUB, task), {"split": "train"})]


def test_readable_asks_once_per_dataset_and_warns_when_it_falls_back(monkeypatch):
    monkeypatch.setattr(hub, "_READABLE", {})
    calls = []

    def offline():
        calls.append(1)
        raise ConnectionError("Couldn't reach the Hub")
    with pytest.warns(UserWarning, match="hub dataset some/data cannot be read .*ConnectionError"):
        assert not hub.readable("some/data", offline)
    assert not hub.readable("some/data", offline) and calls == [1]
    assert hub.readable("other/data", lambda: None)
