"""Image data: CIFAR-10 pickles win over Fashion-MNIST, which is padded to 32x32 RGB; errors say what to do."""
import gzip
import pickle

import numpy as np
import pytest
import torch

from weightmask.tasks import images


def _fashion(base):
    folder = base / images.FASHION_DIR
    folder.mkdir(parents=True)

    def write(name, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
        with gzip.open(folder / name, "wb") as f:
            f.write(header + array.astype(np.uint8).tobytes())
    write("train-images-idx3-ubyte.gz", np.full((4, 28, 28), 255))
    write("train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3]))
    write("t10k-images-idx3-ubyte.gz", np.full((2, 28, 28), 51))
    write("t10k-labels-idx1-ubyte.gz", np.array([9, 8]))


def test_fashion_is_padded_to_32_and_repeated_to_3_channels(tmp_path):
    _fashion(tmp_path)
    data = images.load(data=tmp_path)
    assert data.x_train.shape == (4, 1, 32, 32) and data.x_train.dtype == torch.uint8
    x = images.as_float(data.x_train)
    assert x.shape == (4, 3, 32, 32)
    assert float(x[0, :, 2:30, 2:30].min()) == 1.0 and float(x[0, :, :2].max()) == 0.0
    assert data.y_test.tolist() == [9, 8] and data.classes == images.FASHION_CLASSES
    assert "Fashion-MNIST" in data.name


def test_cifar_batches_are_preferred(tmp_path):
    _fashion(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}, f)
    data = images.load(data=tmp_path)
    assert data.name == "CIFAR-10" and images.as_float(data.x_train).shape == (10, 3, 32, 32)
    assert images.load("fashion", data=tmp_path).name.startswith("Fashion-MNIST")


class Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_cifar_batch_with_a_pickle_payload_is_refused(tmp_path, capsys):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2], b"x": Payload()}, f)
    with pytest.raises(ValueError, match="data_batch_1 is not a CIFAR-10 python batch.*builtins.print"):
        images.load("cifar10", data=tmp_path)
    assert "pwned" not in capsys.readouterr().out


def test_missing_data_names_both_ways_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py.*make data"):
        images.load(data=tmp_path)
    with pytest.raises(ValueError, match="source must be one of"):
        images.load("imagenet", data=tmp_path)


def test_without_classes():
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    assert images.without_classes(y, (1,)).tolist() == [0, 2, 3, 5]


def test_the_paper_profile_refuses_the_stand_in_and_names_how_to_get_cifar10(tmp_path, monkeypatch):
    from weightmask import plan
    monkeypatch.setenv("WEIGHTMASK_DATA", str(tmp_path))
    for source in ("auto", "cifar10", "fashion"):
        with pytest.raises(ValueError, match=r"'source'.*cifar-10-batches-py.*source='hub'.*datasets"):
            plan.prepare("cnn", profile="paper", device="cpu", source=source)
    plan.prepare("cnn", profile="paper", device="cpu", source="hub")
    for profile in ("smoke", "quick"):  # the stand-in stays allowed there
        plan.prepare("cnn", profile=profile, device="cpu", source="fashion")
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"")
    plan.prepare("cnn", profile="paper", device="cpu")


def test_augment_crops_and_flips_each_image_on_its_own():
    """Per image: a crop of the zero-padded image and a flip, drawn from the generator; same shape and dtype,
    and the same draw under the same seed."""
    x = torch.arange(64 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).reshape(64, 1, 32, 32)
    x = x.expand(-1, 3, -1, -1).contiguous()
    out = images.augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out, images.augment(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, images.augment(x, torch.Generator().manual_seed(1)))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    crops = []
    for k in range(len(x)):  # each output is one of the 9 x 9 windows of its padded image, flipped or not
        found = [(i, j, f) for i in range(9) for j in range(9) for f in (False, True)
                 if torch.equal(out[k], (lambda w: w.flip(2) if f else w)(padded[k, :, i:i + 32, j:j + 32]))]
        assert found, k
        crops.append(found[0])
    assert len({(i, j) for i, j, _ in crops}) > 1 and {f for _, _, f in crops} == {False, True}  # differ per image


def test_augment_keeps_float_images_and_refuses_bad_input():
    x = torch.rand(5, 3, 32, 32)
    out = images.augment(x, torch.Generator().manual_seed(0), pad=0)
    assert out.dtype == torch.float32 and all(torch.equal(o, i) or torch.equal(o, i.flip(2)) for o, i in zip(out, x))
    with pytest.raises(ValueError, match="x must be a batch of images"):
        images.augment(x[0], torch.Generator())
    with pytest.raises(ValueError, match="pad must be an integer >= 0"):
        images.augment(x, torch.Generator(), pad=-1)
