"""One optimisation step (zero grads, loss, backward, clip, optimizer step), optionally as a CUDA graph.

A mask-training step launches the layers' kernels once per mask sample, so on a GPU it is
bound by Python and launch overhead, not by arithmetic. Captured once in a CUDA graph and
replayed, the whole step costs one launch. Mask samples stay fresh on every replay because
the grouped sampler draws from the device's default generator, which graphs advance.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.utils import _pytree as pytree

LossOfBatch = Callable[[Any], "tuple[Tensor, Mapping[str, Tensor]]"]
WARMUP = 3  # eager forward/backward passes before capture (cuBLAS handles, allocator, autograd)


class TrainStep:
    """``step(batch) -> (loss, parts)``: one optimisation step of ``params`` on ``batch``.

    With ``graph=True`` (CUDA only) the first call captures the step and every call replays
    it on a copy of the batch in static buffers. The loss must not synchronise with the CPU
    (no ``.item()``), batch shapes must stay the same, and the optimizer must be capturable
    (``torch.optim.Adam(..., capturable=True)``). If capture fails, the step warns and stays
    eager. The returned tensors are overwritten by the next call.
    """

    def __init__(self, loss_of_batch: LossOfBatch, params: list[torch.nn.Parameter],
                 optimizer: torch.optim.Optimizer, clip: float | None = None, graph: bool = False):
        if graph and not (params and all(p.is_cuda for p in params)):
            raise ValueError("graph=True needs every parameter on a CUDA device")
        self.loss_of_batch, self.params, self.optimizer, self.clip = loss_of_batch, params, optimizer, clip
        self.graph = graph
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static: Any = None
        self._out: tuple[Tensor, Mapping[str, Tensor]] | None = None

    def _eager(self, batch):
        self.optimizer.zero_grad(set_to_none=True)
        loss, parts = self.loss_of_batch(batch)
        loss.backward()
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.optimizer.step()
        return loss, parts

    def __call__(self, batch):
        if not self.graph:
            return self._eager(batch)
        if self._graph is None:
            try:
                self._capture(batch)
            except (RuntimeError, torch.cuda.CudaError) as err:  # an op that cannot be captured
                warnings.warn(f"the training step could not be captured as a CUDA graph, so it runs "
                              f"eagerly: {err}", RuntimeWarning, stacklevel=2)
                self.graph, self._graph = False, None
                return self._eager(batch)
        pytree.tree_map(lambda s, b: s.copy_(b, non_blocking=True) if isinstance(s, Tensor) else s,
                        self._static, batch)
        self._graph.replay()
        return self._out

    def _capture(self, batch) -> None:
        self._static = pytree.tree_map(lambda t: t.clone() if isinstance(t, Tensor) else t, batch)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP):
                self.optimizer.zero_grad(set_to_none=True)
                self.loss_of_batch(self._static)[0].backward()
            self._create_optimizer_state()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):  # the eager step, recorded (its zero_grad is a no-op here)
            out = self._eager(self._static)
        self._graph, self._out = graph, out

    @torch.no_grad()
    def _create_optimizer_state(self) -> None:
        """Make the optimizer allocate its state outside the graph without changing anything:
        one step on zero gradients, then parameters and state are put back as they were
        (state that did not exist yet is zeroed, which is how Adam and SGD start)."""
        params = [p.detach().clone() for p in self.params]
        before = {p: {k: v.clone() for k, v in st.items() if isinstance(v, Tensor)}
                  for p, st in self.optimizer.state.items()}
        for p in self.params:
            p.grad = torch.zeros_like(p)
        self.optimizer.step()
        for p, saved in zip(self.params, params):
            p.copy_(saved)
        for p, st in self.optimizer.state.items():
            for k, v in st.items():
                if not isinstance(v, Tensor):
                    continue
                if k in before.get(p, {}):
                    v.copy_(before[p][k])
                else:
                    v.zero_()
        self.optimizer.zero_grad(set_to_none=True)
