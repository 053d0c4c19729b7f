"""``MaskedModel``: one learned logit per weight of any ``nn.Module``, several mask samples per batch.

The wrapped module is never rewritten: its frozen parameters are swapped for masked
copies at call time with ``torch.func.functional_call``. With ``n_samples=K`` the batch
is cut into K equal slices, and slice k runs under its own mask sample (paper Sec. 2).
"""
from __future__ import annotations

import contextlib
import fnmatch
import inspect
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


AUTO = "auto"  # the default in_dims / out_dims: known from the module where torch defines it, else 0
_SEQUENCES = ("input", "query", "key", "value", "src", "tgt", "memory")
_TRANSFORMERS = (nn.Transformer, nn.TransformerEncoder, nn.TransformerDecoder,
                 nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)


def _batch_first(module: nn.Module) -> bool | None:
    """``batch_first`` of a torch recurrent, attention or Transformer module; None for any other.

    Transformer layers and stacks are read through their attention, where every torch version keeps it.
    """
    if isinstance(module, (nn.RNNBase, nn.MultiheadAttention)):
        return bool(module.batch_first)
    if isinstance(module, _TRANSFORMERS):
        attn = next((m for m in module.modules() if isinstance(m, nn.MultiheadAttention)), None)
        return None if attn is None else bool(attn.batch_first)
    return None


def _known_dims(model: nn.Module) -> tuple[dict[str, Dims], Dims] | None:
    """Batch dimension of each forward argument (by name) and of the output of a torch layer whose
    batch is not always dimension 0 (RNN/LSTM/GRU, attention, Transformer); None for other modules."""
    bf = _batch_first(model)
    if bf is None:
        return None
    b = 0 if bf else 1
    if isinstance(model, nn.RNNBase):  # the hidden state is [layers, batch, hidden] either way
        hidden = (1, 1) if isinstance(model, nn.LSTM) else 1
        return {"input": b, "hx": hidden}, (b, hidden)
    if isinstance(model, nn.MultiheadAttention):  # the attention weights are batch-first either way
        return {"query": b, "key": b, "value": b, "key_padding_mask": 0}, (b, 0)
    pads = {f"{s}_key_padding_mask": 0 for s in ("src", "tgt", "memory")}  # [batch, seq] either way
    return {"src": b, "tgt": b, "memory": b, **pads}, b


def _time_first_layers(model: nn.Module) -> list[str]:
    """The outermost submodules that take [time, batch, ...] tensors (``batch_first=False``)."""
    found: list[str] = []
    for path, module in model.named_modules():
        if path and _batch_first(module) is False and not any(path.startswith(f + ".") for f in found):
            found.append(path)
    return [f"{type(model.get_submodule(p)).__name__} at {p!r}" for p in found]


class MaskedModel(nn.Module):
    """Learn one mask logit per weight of ``model``; the model's own parameters stay frozen.

    ``include`` / ``exclude`` are glob patterns on parameter names (``"*.bias"``,
    ``"embedding.*"``). ``in_dims`` gives the batch dimension of the positional inputs
    (an int for all, or a tuple with None for inputs that are not split and a nested tuple
    for a tuple input), ``kw_in_dims`` that of keyword inputs (none are split by default),
    ``out_dims`` that of the output (an int, or a pytree shaped like the output, e.g.
    ``(1, (1, 1))`` for a time-first ``nn.LSTM``). The default ``"auto"`` reads them from
    ``batch_first`` when ``model`` is a torch RNN/LSTM/GRU, attention or Transformer module
    (padding masks split too) and is 0 for other models; a model that contains a time-first
    such layer must say where its batch is, since slicing the wrong dimension runs silently.
    """

    def __init__(self, model: nn.Module, n_samples: int = 4, init_prob: float = 0.9,
                 include=None, exclude=None, tau: float = 1.0, in_dims: Dims = AUTO,
                 out_dims: Dims = AUTO, kw_in_dims: Mapping[str, int] | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not (isinstance(init_prob, (int, float)) and 0 < init_prob < 1):
            raise ValueError(f"init_prob must be in the open interval (0, 1), got {init_prob!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        for name, value in (("in_dims", in_dims), ("out_dims", out_dims)):
            if isinstance(value, str) and value != AUTO:
                raise ValueError(f"{name} must be {AUTO!r}, None, an int or a tuple of them, got {value!r}")
        _check_layers(model)
        self._known = _known_dims(model)
        self._arg_names = list(inspect.signature(model.forward).parameters) if self._known else []
        self._time_first = [] if self._known else _time_first_layers(model)
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

        ``mask`` (a ``Mask`` or a mapping of bool tensors) may cover only some of the masked
        parameters; the others keep being sampled. Other dtypes are refused: a float mask would
        scale the weights rather than select them.
        """
        if not isinstance(mask, Mapping):
            raise TypeError(f"fixed(mask): mask must be a Mask or a mapping of parameter name -> bool "
                            f"tensor, got {type(mask).__name__}")
        bad = {n: str(t.dtype) if isinstance(t, Tensor) else type(t).__name__
               for n, t in mask.items() if not (isinstance(t, Tensor) and t.dtype == torch.bool)}
        if bad:
            raise TypeError(f"fixed(mask): mask must hold bool tensors (True keeps a weight, False "
                            f"removes it), but these entries are not bool: {bad}. Pass a Mask or "
                            "convert explicitly, e.g. t.bool() or t > 0.5")
        self._check_mask(mask)
        weights = self._weights()
        previous = self._fixed
        self._fixed = {**previous, **{n: t.to(weights[n].device, weights[n].dtype) for n, t in mask.items()}}
        try:
            yield self
        finally:
            self._fixed = previous

    # -- forward -------------------------------------------------------------------------
    def _check_dims_known(self) -> None:
        """Refuse to guess the batch dimension of a model that contains time-first layers."""
        if self._time_first and (self.in_dims == AUTO or self.out_dims == AUTO):
            raise ValueError(
                f"in_dims/out_dims: cannot tell which dimension is the batch for "
                f"{type(self.model).__name__}: it contains {', '.join(self._time_first)} with "
                "batch_first=False, which take [time, batch, ...] tensors, so the default 0 may cut "
                "the sequence instead of the batch. Pass both, e.g. in_dims=1, out_dims=1 if the model "
                "takes and returns time-first tensors, or in_dims=0, out_dims=0 if batch-first")

    def _input_dims(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The batch dimension of each positional and keyword input of this call."""
        if not (self.in_dims == AUTO and self._known is not None):
            in_dims = 0 if self.in_dims == AUTO else self.in_dims
            if isinstance(in_dims, int) or in_dims is None:
                in_dims = (in_dims,) * len(args)
            return tuple(in_dims), dict(self.kw_in_dims)
        by_name = self._known[0]
        names = self._arg_names[:len(args)]
        for name, v in [*zip(names, args), *kwargs.items()]:
            if name in _SEQUENCES and isinstance(v, Tensor) and v.dim() != 3:
                raise ValueError(
                    f"n_samples={self.n_samples} cuts the batch into slices, but {name} of "
                    f"{type(self.model).__name__} has shape {tuple(v.shape)}, not a batch "
                    f"(batch_first={_batch_first(self.model)}); pass batched 3-D inputs or use n_samples=1")
        return (tuple(by_name.get(n) for n in names),
                {**{key: by_name.get(key) for key in kwargs}, **self.kw_in_dims})

    def _split(self, args: tuple, kwargs: dict, k: int):
        """Cut the batched inputs into ``k`` equal slices: a list of (args, kwargs)."""
        self._check_dims_known()
        in_dims, kw_in_dims = self._input_dims(args, kwargs)
        if len(in_dims) != len(args):
            raise ValueError(f"in_dims {self.in_dims!r} has {len(in_dims)} entries for {len(args)} inputs")
        unknown = set(self.kw_in_dims) - set(kwargs)
        if unknown:
            raise ValueError(f"kw_in_dims names {sorted(unknown)}, which were not passed; got {sorted(kwargs)}")
        inputs = [(f"args[{i}]", a, d) for i, (a, d) in enumerate(zip(args, in_dims))]
        inputs += [(key, v, kw_in_dims.get(key)) for key, v in kwargs.items()]
        sizes: dict[str, int] = {}
        parts = []  # per input: its leaves, tree spec (None: the input itself) and the dim to cut each along
        for label, v, d in inputs:
            structured = isinstance(d, (tuple, list)) and v is not None
            leaves, spec, dims = _leaves_with_dims(v, d, f"in_dims for {label}") if structured \
                else ([v], None, [d])
            cut = []
            for j, (leaf, dim) in enumerate(zip(leaves, dims)):
                if dim is None or not isinstance(leaf, Tensor):
                    cut.append(None)
                    continue
                where = f"{label}[{j}]" if structured else label
                if not -leaf.dim() <= dim < leaf.dim():
                    raise ValueError(f"in_dims: {where} has shape {tuple(leaf.shape)}, no dimension {dim}")
                sizes[where] = leaf.shape[dim]
                cut.append(dim)
            parts.append((leaves, spec if structured else None, cut))
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
        pieces = [(leaves, spec, [leaf.split(batch // k, dim=d) if d is not None else None
                                  for leaf, d in zip(leaves, cut)]) for leaves, spec, cut in parts]
        out = []
        for i in range(k):
            values = []
            for leaves, spec, cuts in pieces:
                vals = [c[i] if c is not None else leaf for leaf, c in zip(leaves, cuts)]
                values.append(vals[0] if spec is None else pytree.tree_unflatten(vals, spec))
            out.append((tuple(values[:len(args)]), dict(zip(kwargs, values[len(args):]))))
        return out

    def _merge(self, outs: list):
        leaves_list, specs = [], []
        out_dims = self.out_dims
        if out_dims == AUTO:
            out_dims = self._known[1] if self._known is not None else 0
        for o in outs:
            leaves, spec, dims = _leaves_with_dims(o, out_dims, "out_dims")
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
