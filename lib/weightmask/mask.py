"""``Mask``: a named set of boolean tensors, one per masked parameter, with set algebra."""
from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

__all__ = ["Mask"]

CHECKSUM_KEY = "weightmask.sha256"  # safetensors metadata entry written by Mask.save


def _digest(tensors: Mapping[str, Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and raw bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        head = json.dumps([name, str(t.dtype), list(t.shape)]).encode()
        raw = (t.view(torch.uint8) if t.dtype == torch.bool else t).numpy().tobytes()
        for part in (head, raw):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


class Mask(Mapping[str, Tensor]):
    """Which weights a module uses: parameter name -> bool tensor shaped like the parameter.

    Supports ``~a``, ``a & b``, ``a | b``, ``a - b`` (in a, not in b) and ``a ^ b``;
    binary operations require the same names and shapes.
    """

    def __init__(self, tensors: Mapping[str, Tensor]):
        self._t: dict[str, Tensor] = {}
        for name, t in tensors.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"mask entry {name!r} must be a tensor, got {type(t).__name__}")
            self._t[name] = t.detach().to("cpu", torch.bool)

    # -- mapping -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Tensor:
        return self._t[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._t)

    def __len__(self) -> int:
        return len(self._t)

    def __repr__(self) -> str:
        return f"Mask({len(self)} tensors, {self.count():,}/{self.total():,} kept, density {self.density():.3f})"

    @classmethod
    def full(cls, like: Mapping[str, Tensor], value: bool = True) -> "Mask":
        """A mask keeping (``value=True``) or removing every weight, shaped like ``like``."""
        return cls({n: torch.full(t.shape, value, dtype=torch.bool) for n, t in like.items()})

    def select(self, names) -> "Mask":
        """The sub-mask with only ``names`` (an iterable of parameter names)."""
        names = list(names)
        missing = [n for n in names if n not in self._t]
        if missing:
            raise KeyError(f"names not in mask: {missing}; the mask has {list(self._t)}")
        return Mask({n: self._t[n] for n in names})

    def replace(self, other: Mapping[str, Tensor]) -> "Mask":
        """A copy with the entries of ``other`` substituted (names must exist, shapes match)."""
        out = dict(self._t)
        for n, t in other.items():
            if n not in out:
                raise KeyError(f"{n!r} is not in the mask; it has {list(out)}")
            if tuple(t.shape) != tuple(out[n].shape):
                raise ValueError(f"shape of {n!r}: {tuple(t.shape)} != {tuple(out[n].shape)}")
            out[n] = t
        return Mask(out)

    # -- algebra -------------------------------------------------------------------------
    def _check_compatible(self, other: "Mask") -> None:
        if not isinstance(other, Mask):
            raise TypeError(f"expected a Mask, got {type(other).__name__}")
        if list(self._t) != list(other._t) and set(self._t) != set(other._t):
            raise ValueError("masks cover different parameters: "
                             f"only left {sorted(set(self._t) - set(other._t))}, "
                             f"only right {sorted(set(other._t) - set(self._t))}")
        for n, t in self._t.items():
            if t.shape != other._t[n].shape:
                raise ValueError(f"shape of {n!r} differs: {tuple(t.shape)} vs {tuple(other._t[n].shape)}")

    def _binary(self, other: "Mask", op) -> "Mask":
        self._check_compatible(other)
        return Mask({n: op(t, other._t[n]) for n, t in self._t.items()})

    def __invert__(self) -> "Mask":
        return Mask({n: ~t for n, t in self._t.items()})

    def __and__(self, other: "Mask") -> "Mask":
        return self._binary(other, torch.logical_and)

    def __or__(self, other: "Mask") -> "Mask":
        return self._binary(other, torch.logical_or)

    def __xor__(self, other: "Mask") -> "Mask":
        return self._binary(other, torch.logical_xor)

    def __sub__(self, other: "Mask") -> "Mask":
        return self._binary(other, lambda a, b: a & ~b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mask) or set(self._t) != set(other._t):
            return False
        return all(t.shape == other._t[n].shape and torch.equal(t, other._t[n]) for n, t in self._t.items())

    __hash__ = None  # mutable-content container

    # -- counts --------------------------------------------------------------------------
    def count(self) -> int:
        """Number of kept weights."""
        return int(sum(int(t.sum()) for t in self._t.values()))

    def total(self) -> int:
        """Number of weights the mask covers."""
        return int(sum(t.numel() for t in self._t.values()))

    def density(self) -> float:
        """Fraction of weights kept."""
        total = self.total()
        return self.count() / total if total else 0.0

    def per_layer(self) -> pd.DataFrame:
        """One row per parameter: ``name``, ``kept``, ``total``, ``density``."""
        rows = [{"name": n, "kept": int(t.sum()), "total": t.numel()} for n, t in self._t.items()]
        df = pd.DataFrame(rows, columns=["name", "kept", "total"])
        df["density"] = df["kept"] / df["total"].where(df["total"] > 0)
        return df

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Tensor]:
        return dict(self._t)

    def save(self, path: str | Path) -> None:
        """Write the mask as safetensors (bool tensors) with a sha256 of its content, atomically."""
        from safetensors.torch import save

        from ._io import atomic_write
        tensors = {n: t.contiguous() for n, t in self._t.items()}
        atomic_write(path, save(tensors, metadata={CHECKSUM_KEY: _digest(tensors)}))

    @classmethod
    def load(cls, path: str | Path) -> "Mask":
        """Read a mask written by :meth:`save`, verifying its checksum.

        A missing, truncated or corrupted file raises an error naming ``path``; a file without a
        checksum (written before checksums were added) loads with a ``UserWarning``.
        """
        from safetensors.torch import load
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no mask file there") from None
        except OSError as e:
            raise ValueError(f"{path}: cannot read the mask file: {e}") from e
        try:
            tensors = load(data)
            size = int.from_bytes(data[:8], "little")
            meta = json.loads(data[8:8 + size]).get("__metadata__")
        except Exception as e:  # safetensors raises its own error type for malformed files
            raise ValueError(f"{path}: not a readable safetensors mask file (truncated or corrupted?): "
                             f"{type(e).__name__}: {e}") from e
        bad = [n for n, t in tensors.items() if t.dtype != torch.bool]
        if bad:
            raise ValueError(f"{path}: not a mask file, entries {bad} are not boolean")
        if meta is None:  # written before masks carried a checksum
            warnings.warn(f"{path}: the mask file has no checksum (written by an older weightmask or "
                          "another tool), so its content cannot be verified; save it again to add one",
                          UserWarning, stacklevel=2)
            return cls(tensors)
        expected = meta.get(CHECKSUM_KEY)
        if expected is None:  # a damaged key must not pass as an unverifiable old file
            raise ValueError(f"{path}: the mask file's metadata has no {CHECKSUM_KEY!r} entry: it is "
                             f"corrupted or was not written by Mask.save (metadata keys: {sorted(meta)})")
        elif expected != _digest(tensors):
            raise ValueError(f"{path}: the mask file is corrupted: its content does not match the "
                             f"sha256 in its metadata ({CHECKSUM_KEY})")
        return cls(tensors)
