"""``Mask``: set algebra, counts, persistence and validation on hand-made masks."""

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from weightmask import Mask


def T(*rows):
    return torch.tensor(rows, dtype=torch.bool)


@pytest.fixture
def a():
    # w: 2x3 with 4 kept, b: 3 with 1 kept -> 5 of 9
    return Mask({"w": T([1, 0, 1], [1, 1, 0]), "b": T(1, 0, 0)})


@pytest.fixture
def b():
    # w: 3 kept, b: 2 kept -> 5 of 9
    return Mask({"w": T([1, 1, 0], [0, 1, 0]), "b": T(1, 1, 0)})


def test_mapping_and_conversion():
    m = Mask({"x": torch.tensor([0.0, 2.5, -1.0]), "y": torch.tensor([[0, 1]])})
    assert list(m) == ["x", "y"] and len(m) == 2 and "x" in m
    assert m["x"].dtype == torch.bool and m["y"].dtype == torch.bool
    assert torch.equal(m["x"], T(0, 1, 1))
    assert torch.equal(m["y"], T([0, 1]))
    assert dict(m.to_dict()).keys() == {"x", "y"}
    with pytest.raises(TypeError, match="'x' must be a tensor"):
        Mask({"x": [1, 0]})


def test_algebra(a, b):
    assert torch.equal((~a)["w"], T([0, 1, 0], [0, 0, 1]))
    assert torch.equal((~a)["b"], T(0, 1, 1))
    assert torch.equal((a & b)["w"], T([1, 0, 0], [0, 1, 0]))
    assert torch.equal((a & b)["b"], T(1, 0, 0))
    assert torch.equal((a | b)["w"], T([1, 1, 1], [1, 1, 0]))
    assert torch.equal((a | b)["b"], T(1, 1, 0))
    assert torch.equal((a ^ b)["w"], T([0, 1, 1], [1, 0, 0]))
    assert torch.equal((a ^ b)["b"], T(0, 1, 0))
    assert torch.equal((a - b)["w"], T([0, 0, 1], [1, 0, 0]))
    assert torch.equal((a - b)["b"], T(0, 0, 0))
    assert torch.equal((b - a)["b"], T(0, 1, 0))
    # identities
    assert ~~a == a
    assert (a - b) | (a & b) == a
    assert (a ^ b) == (a | b) - (a & b)
    assert (a & ~a).count() == 0 and (a | ~a).count() == a.total()
    # operands are not modified
    assert torch.equal(a["w"], T([1, 0, 1], [1, 1, 0]))


def test_equality(a, b):
    assert a == Mask({"b": T(1, 0, 0), "w": T([1, 0, 1], [1, 1, 0])})  # order-free
    assert a != b
    assert a != Mask({"w": a["w"]})
    assert a != {"w": a["w"], "b": a["b"]}  # only masks equal masks
    assert a != Mask({"w": a["w"], "b": T([1, 0, 0])})  # same values, other shape


def test_counts(a, b):
    assert a.count() == 5 and a.total() == 9
    assert a.density() == pytest.approx(5 / 9)
    assert (a & b).count() == 3 and (a | b).count() == 7
    assert Mask({}).density() == 0.0 and Mask({}).total() == 0
    df = a.per_layer()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["name", "kept", "total", "density"]
    assert df["name"].tolist() == ["w", "b"]
    assert df["kept"].tolist() == [4, 1]
    assert df["total"].tolist() == [6, 3]
    assert df["density"].tolist() == pytest.approx([4 / 6, 1 / 3])
    assert "5/9" in repr(a)


def test_save_load_round_trip(a, tmp_path):
    path = tmp_path / "sub" / "mask.safetensors"
    a.save(path)
    loaded = Mask.load(path)
    assert loaded == a
    assert all(loaded[n].dtype == torch.bool for n in loaded)
    assert [p.name for p in path.parent.iterdir()] == ["mask.safetensors"]  # no temp files left
    # non-contiguous tensors are saved by value
    nc = Mask({"t": T([1, 0], [0, 0]).t()})
    nc.save(tmp_path / "nc.safetensors")
    assert torch.equal(Mask.load(tmp_path / "nc.safetensors")["t"], T([1, 0], [0, 0]))


def test_load_rejects_non_boolean_files(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.ones(2, 2), "ok": torch.ones(2, dtype=torch.bool)}, str(path))
    with pytest.raises(ValueError, match=r"not a mask file.*\['w'\]"):
        Mask.load(path)


def test_incompatible_masks_raise(a):
    other_names = Mask({"w": a["w"], "c": a["b"]})
    for op in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: x - y):
        with pytest.raises(ValueError, match=r"different parameters.*only left \['b'\].*only right \['c'\]"):
            op(a, other_names)
        with pytest.raises(ValueError, match=r"shape of 'b' differs: \(3,\) vs \(1, 3\)"):
            op(a, Mask({"w": a["w"], "b": T([1, 0, 0])}))
        with pytest.raises(TypeError, match="expected a Mask"):
            op(a, {"w": a["w"], "b": a["b"]})
    with pytest.raises(ValueError, match="different parameters"):
        a & Mask({"w": a["w"]})


def test_full(a):
    ones = Mask.full(a)
    zeros = Mask.full(a, value=False)
    assert ones.count() == ones.total() == 9 and zeros.count() == 0
    assert [tuple(ones[n].shape) for n in ones] == [(2, 3), (3,)]
    params = {"lin.weight": torch.nn.Parameter(torch.randn(4, 2)), "lin.bias": torch.zeros(4)}
    full = Mask.full(params)
    assert list(full) == ["lin.weight", "lin.bias"] and full.density() == 1.0
    assert (a & ones) == a and (a | zeros) == a


def test_select(a):
    s = a.select(["b"])
    assert list(s) == ["b"] and torch.equal(s["b"], a["b"])
    assert list(a.select(iter(["b", "w"]))) == ["b", "w"]
    with pytest.raises(KeyError, match=r"\['zz'\]"):
        a.select(["w", "zz"])


def test_replace(a):
    r = a.replace({"b": T(0, 1, 1)})
    assert torch.equal(r["b"], T(0, 1, 1)) and torch.equal(r["w"], a["w"])
    assert torch.equal(a["b"], T(1, 0, 0))  # the original is unchanged
    assert a.replace(a.select(["w"])) == a
    with pytest.raises(KeyError, match="'zz' is not in the mask"):
        a.replace({"zz": T(1)})
    with pytest.raises(ValueError, match=r"shape of 'b': \(2,\) != \(3,\)"):
        a.replace({"b": T(1, 0)})


def test_not_hashable(a):
    with pytest.raises(TypeError):
        hash(a)
