"""Fixtures shared by the tests."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """One thread for torch and numba: identical results, but on a machine whose cores are busy
    with other work, 2 + 2 spinning OpenMP threads make each of these tiny steps ~100x slower."""
    numba = pytest.importorskip("numba")
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    yield
    torch.set_num_threads(before[0])
    numba.set_num_threads(before[1])


@pytest.fixture
def cifar_present(tmp_path_factory, monkeypatch):
    """A data folder in which CIFAR-10 is present (an empty test batch), so that the paper profile's checks,
    which refuse the Fashion-MNIST stand-in, pass without the dataset; for tests that do not load images."""
    folder = tmp_path_factory.mktemp("data") / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").touch()
    monkeypatch.setenv("WEIGHTMASK_DATA", str(folder.parent))
    return folder.parent
