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
