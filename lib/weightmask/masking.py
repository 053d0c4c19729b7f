"""``MaskedModel``: one learned logit per weight of any ``nn.Module``, several mask samples per batch.

The wrapped module is never rewritten: its frozen parameters are swapped for masked
copies at call time with ``torch.func.functional_call``. With ``n_samples=K`` the batch
is cut into K equal slices, and slice k runs under its own mask sample (paper Sec. 2).
"""
from __future__ import annotations

import contextlib
import fnmatch
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.utils import _pytree as pytree

from .gumbel import masked_weight_samples_many, sample_keep_many
from .mask import Mask

__all__ = ["MaskedModel", "UnsupportedLayerError"]

Dims = Any  # an int, None, or a tuple/pytree of them


class UnsupportedLayerError(TypeError):
    """A module whose weights cannot be masked elementwise."""


def _patterns(value, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{name} must be a glob pattern or a list of them (e.g. '*.bias'), got {value!r}")


def _select(names: list[str], include, exclude, model_name: str) -> list[str]:
    """Parameter names matched by ``include`` (all if None) and not by ``exclude`` (glob patterns)."""
    inc, exc = _patterns(include, "include"), _patterns(exclude, "exclude")
    for kind, pats in (("include", inc), ("exclude", exc)):
        for p in pats:
            if not any(fnmatch.fnmatchcase(n, p) for n in names):
                raise ValueError(f"{kind} pattern {p!r} matches no parameter of {model_name}; "
                                 f"its parameters are: {names}")
    chosen = [n for n in names if (not inc or any(fnmatch.fnmatchcase(n, p) for p in inc))
              and not any(fnmatch.fnmatchcase(n, p) for p in exc)]
    if not chosen:
        raise ValueError(f"include={include!r}, exclude={exclude!r} leave no parameter of {model_name} "
                         f"to mask; its parameters are: {names}")
    return chosen


def _check_layers(model: nn.Module) -> None:
    """Raise for modules whose weights are not plain float parameters that can be masked."""
    for path, module in model.named_modules():
        where = f"{type(module).__name__} at {path or '<root>'!r}"
        origin = type(module).__module__
        if ".quantized" in origin:
            raise UnsupportedLayerError(
                f"{where} cannot be masked: quantized layers keep packed integer weights, not "
                "nn.Parameters. Mask the float model before quantization.")
        lazy = getattr(module, "has_uninitialized_params", None)
        if callable(lazy) and lazy():
            raise UnsupportedLayerError(
                f"{where} cannot be masked yet: its parameters are uninitialized (lazy). "
                "Run one forward pass first so that their shapes are known.")
        for pname, p in module.named_parameters(recurse=False):
            if not p.is_floating_point():
                raise UnsupportedLayerError(
                    f"{where} cannot be masked: parameter {pname!r} has dtype {p.dtype}; "
                    "masks multiply floating-point weights.")
            if p.is_sparse:
                raise UnsupportedLayerError(f"{where} cannot be masked: parameter {pname!r} is sparse.")


def _leaves_with_dims(tree, dims: Dims, what: str):
    leaves, spec = pytree.tree_flatten(tree)
    if dims is None or isinstance(dims, int):
        return leaves, spec, [dims] * len(leaves)
    dim_leaves = pytree.tree_leaves(dims, is_leaf=lambda x: x is None)
    if len(dim_leaves) != len(leaves):
        raise ValueError(f"{what} {dims!r} has {len(dim_leaves)} entries but the structure has "
                         f"{len(leaves)} leaves: {pytree.tree_map(lambda x: type(x).__name__, tree)}")
    return leaves, spec, dim_leaves


class MaskedModel(nn.Module):
    """Learn one mask logit per weight of ``model``; the model's own parameters stay frozen.

    ``include`` / ``exclude`` are glob patterns on parameter names (``"*.bias"``,
    ``"embedding.*"``). ``in_dims`` gives the batch dimension of the positional inputs
    (an int for all, or a tuple with None for inputs that are not split), ``kw_in_dims``
    that of keyword inputs (none are split by default), ``out_dims`` that of the output
    (an int, or a pytree shaped like the output, e.g. ``(1, (1, 1))`` for an ``nn.LSTM``).
    """

    def __init__(self, model: nn.Module, n_samples: int = 4, init_prob: float = 0.9,
                 include=None, exclude=None, tau: float = 1.0, in_dims: Dims = 0,
                 out_dims: Dims = 0, kw_in_dims: Mapping[str, int] | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not (isinstance(init_prob, (int, float)) and 0 < init_prob < 1):
            raise ValueError(f"init_prob must be in the open interval (0, 1), got {init_prob!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        _check_layers(model)
        self.n_samples = n_samples
        self.tau, self.init_prob = float(tau), float(init_prob)
        self.in_dims, self.out_dims, self.kw_in_dims = in_dims, out_dims, dict(kw_in_dims or {})
        self.model = model.requires_grad_(False)
        params = dict(model.named_parameters())
        self.names: list[str] = _select(list(params), include, exclude, type(model).__name__)
        init = math.log(init_prob / (1 - init_prob))
        self.logits = nn.ParameterList(
            nn.Parameter(torch.full_like(params[n], init)) for n in self.names)
        self._fixed: dict[str, Tensor] = {}
        by_id: dict[int, list[str]] = {}  # every name of each parameter, tied weights included
        slots = set()  # (module, attribute): a module registered under two names is replaced once
        for alias, p in model.named_parameters(remove_duplicate=False):
            owner, _, attr = alias.rpartition(".")
            slot = (id(model.get_submodule(owner)), attr)
            if slot not in slots:
                slots.add(slot)
                by_id.setdefault(id(p), []).append(alias)
        self._aliases = {n: by_id[id(params[n])] for n in self.names}

    # -- properties ----------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return self._n_samples

    @n_samples.setter
    def n_samples(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {value!r}")
        self._n_samples = value

    def _weights(self) -> dict[str, Tensor]:
        params = dict(self.model.named_parameters())
        return {n: params[n] for n in self.names}

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, nn.Parameter]]:
        """Only the mask logits, named after the weights they mask: pass these to the optimizer."""
        for n, p in zip(self.names, self.logits):
            yield prefix + n, p

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        for _, p in self.named_parameters():
            yield p

    # -- the mask ------------------------------------------------------------------------
    def regularizer(self) -> Tensor:
        """Sum of all logits: the paper's ``r = alpha * sum_i l_i`` without alpha."""
        return torch.stack([l.sum() for l in self.logits]).sum()

    def probabilities(self) -> dict[str, Tensor]:
        """``sigmoid(l)`` per weight: the probability that a sample keeps it."""
        return {n: torch.sigmoid(l.detach()) for n, l in zip(self.names, self.logits)}

    def mask(self) -> Mask:
        """The deterministic mask ``sigmoid(l) > 0.5`` (equivalently ``l > 0``)."""
        return Mask({n: l.detach() > 0 for n, l in zip(self.names, self.logits)})

    def sample(self, n: int | None = None) -> list[Mask]:
        """Draw ``n`` (default ``n_samples``) masks exactly as ``forward`` draws them."""
        n = self.n_samples if n is None else n
        sampled = [(name, l) for name, l in zip(self.names, self.logits) if name not in self._fixed]
        keeps = sample_keep_many([l for _, l in sampled], n) if sampled else []
        keep = {name: k for (name, _), k in zip(sampled, keeps)}
        return [Mask({**{m: self._fixed[m] > 0 for m in self._fixed}, **{m: k[i] for m, k in keep.items()}})
                for i in range(n)]

    def _check_mask(self, mask: Mapping[str, Tensor]) -> None:
        unknown = [n for n in mask if n not in self.names]
        if unknown:
            raise ValueError(f"mask entries {unknown} are not masked parameters of this model; "
                             f"masked parameters: {self.names}")
        shapes = dict(zip(self.names, (tuple(l.shape) for l in self.logits)))
        wrong = {n: (tuple(t.shape), shapes[n]) for n, t in mask.items() if tuple(t.shape) != shapes[n]}
        if wrong:
            raise ValueError("mask shapes do not match the model (mask, model): " +
                             ", ".join(f"{n}: {a} vs {b}" for n, (a, b) in wrong.items()))

    @contextlib.contextmanager
    def fixed(self, mask: Mapping[str, Tensor]):
        """Run with a given mask instead of samples: for evaluation, inverted masks, ablations.

        ``mask`` may cover only some of the masked parameters; the others keep being sampled.
        """
        self._check_mask(mask)
        weights = self._weights()
        previous = self._fixed
        self._fixed = {**previous, **{n: t.to(weights[n].device, weights[n].dtype) for n, t in mask.items()}}
        try:
            yield self
        finally:
            self._fixed = previous

    # -- forward -------------------------------------------------------------------------
    def _split(self, args: tuple, kwargs: dict, k: int):
        """Cut the batched inputs into ``k`` equal slices: a list of (args, kwargs)."""
        in_dims = self.in_dims if not isinstance(self.in_dims, int) and self.in_dims is not None \
            else (self.in_dims,) * len(args)
        if len(in_dims) != len(args):
            raise ValueError(f"in_dims {self.in_dims!r} has {len(in_dims)} entries for {len(args)} inputs")
        unknown = set(self.kw_in_dims) - set(kwargs)
        if unknown:
            raise ValueError(f"kw_in_dims names {sorted(unknown)}, which were not passed; got {sorted(kwargs)}")
        items = [(("arg", i), a, d) for i, (a, d) in enumerate(zip(args, in_dims))]
        items += [(("kw", key), v, self.kw_in_dims.get(key)) for key, v in kwargs.items()]
        sizes = {where: v.shape[d] for where, v, d in items if d is not None and isinstance(v, Tensor)}
        if not sizes:
            raise ValueError("n_samples > 1 needs at least one batched tensor input to split "
                             f"(in_dims={self.in_dims!r})")
        batch = set(sizes.values())
        if len(batch) != 1:
            raise ValueError(f"inputs disagree on the batch size along in_dims: {sizes}")
        batch = batch.pop()
        if batch % k:
            raise ValueError(f"n_samples={k} must divide the batch size, but the batch has {batch} "
                             "samples; use a batch size that is a multiple of n_samples")
        pieces = {where: (v.split(batch // k, dim=d) if where in sizes else None) for where, v, d in items}
        out = []
        for i in range(k):
            a = tuple(pieces[("arg", j)][i] if pieces[("arg", j)] is not None else args[j]
                      for j in range(len(args)))
            kw = {key: pieces[("kw", key)][i] if pieces[("kw", key)] is not None else v
                  for key, v in kwargs.items()}
            out.append((a, kw))
        return out

    def _merge(self, outs: list):
        leaves_list, specs = [], []
        for o in outs:
            leaves, spec, dims = _leaves_with_dims(o, self.out_dims, "out_dims")
            leaves_list.append(leaves)
            specs.append(spec)
        merged = []
        for j, d in enumerate(dims):
            parts = [leaves[j] for leaves in leaves_list]
            if not isinstance(parts[0], Tensor) or d is None:
                merged.append(parts[0])
                continue
            if parts[0].dim() == 0:
                raise ValueError("the model returned a scalar tensor; with n_samples > 1 its outputs "
                                 "must keep a batch dimension (out_dims) so slices can be rejoined")
            merged.append(torch.cat(parts, dim=d))
        return pytree.tree_unflatten(merged, specs[0])

    def forward(self, *args, **kwargs):
        weights = self._weights()
        replaced = {n: weights[n] * m for n, m in self._fixed.items()}
        sampled = [(n, l) for n, l in zip(self.names, self.logits) if n not in self._fixed]
        if not sampled:
            return self._call(replaced, args, kwargs)
        k = self.n_samples
        # all tensors under one seed: on a GPU they are sampled as one flat tensor
        draws = dict(zip((n for n, _ in sampled), masked_weight_samples_many(
            [weights[n] for n, _ in sampled], [l for _, l in sampled], k, self.tau)))
        if k == 1:
            return self._call({**replaced, **{n: d[0] for n, d in draws.items()}}, args, kwargs)
        outs = [self._call({**replaced, **{n: d[i] for n, d in draws.items()}}, a, kw)
                for i, (a, kw) in enumerate(self._split(args, kwargs, k))]
        return self._merge(outs)

    def _call(self, tensors: dict[str, Tensor], args, kwargs):
        """The model with ``tensors`` in place of its parameters (and of every tied alias of them).

        Aliases are resolved once at construction, so no call has to search the module tree
        for tied weights (``functional_call``'s ``tie_weights``), which costs as much as a
        small layer's forward pass.
        """
        full = {alias: t for name, t in tensors.items() for alias in self._aliases[name]}
        return functional_call(self.model, full, args, kwargs, tie_weights=False)

    def extra_repr(self) -> str:
        total = sum(l.numel() for l in self.logits)
        return (f"n_samples={self.n_samples}, tau={self.tau}, masked={len(self.names)} tensors "
                f"({total:,} weights)")
