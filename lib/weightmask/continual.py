"""Continual learning with one mask per task (paper Sec. 3.3, App. C.6).

For each task, a fresh mask and the network's free weights are trained together; afterwards
the weights the task's mask uses are frozen for every later task, and the free ones are
re-initialized. The first layer (``reset``) is re-initialized for every task and never
frozen, so that each task can undo its own input permutation; its weights are kept per task
so that every task can still be evaluated at the end.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .gumbel import masked_weight_samples_many
from .mask import Mask
from .step import TrainStep
from .store import Run
from .training import _batch_source, _loop


@dataclass
class Task:
    """What a task left behind: its mask, its own first layer, its training log."""

    mask: Mask
    reset_weights: dict[str, Tensor]
    log: list[dict] = field(default_factory=list)


class _Fixed(nn.Module):
    """``model`` computing with the given weights instead of its own."""

    def __init__(self, model: nn.Module, weights: dict[str, Tensor]):
        super().__init__()
        self.model, self.weights = model, weights

    def forward(self, x: Tensor) -> Tensor:
        return functional_call(self.model, self.weights, (x,))


_FILES = ("weights.safetensors", "mask.safetensors", "reset.safetensors", "log.csv")  # a finished task


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def xavier_relu_(model: nn.Module) -> nn.Module:
    """Re-initialize ``model``'s linear layers in place as the authors' FNN does (their
    models/feedforward.py, reset_parameters): Xavier-normal weights with the ReLU gain, gain 1 for
    the last (linear output) layer, and zero biases. Returns ``model``."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"model has no nn.Linear layer to initialize: {type(model).__name__}")
    relu = nn.init.calculate_gain("relu")
    with torch.no_grad():
        for i, layer in enumerate(linears):
            nn.init.xavier_normal_(layer.weight, gain=1.0 if i == len(linears) - 1 else relu)
            if layer.bias is not None:
                layer.bias.zero_()
    return model


class ContinualMasks:
    """Trains a sequence of tasks on ``model``, one mask per task, freezing used weights.

    ``reset``: names of the parameters re-initialized for every task and never frozen (the
    first layer); ``init``: a function ``seed -> fresh model of the same shape`` whose values
    re-initialize the free weights.
    """

    def __init__(self, model: nn.Module, init: Callable[[int], nn.Module], reset: Sequence[str],
                 n_samples: int = 8):
        names = [n for n, _ in model.named_parameters()]
        unknown = [r for r in reset if r not in names]
        if unknown:
            raise ValueError(f"reset names {unknown} are not parameters of the model; it has {names}")
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
        self.model, self.init, self.reset, self.n_samples = model, init, list(reset), n_samples
        self.frozen = Mask({n: torch.zeros_like(p, dtype=torch.bool) for n, p in model.named_parameters()})
        self.tasks: list[Task] = []

    def _reinit_free(self, seed: int) -> None:
        fresh = dict(self.init(seed).named_parameters())
        with torch.no_grad():
            for n, p in self.model.named_parameters():
                keep = self.frozen[n].to(p.device)
                p.copy_(torch.where(keep, p, fresh[n].to(p.device, p.dtype)))

    def _logits(self, old: float | None, new: float) -> dict[str, nn.Parameter]:
        """New mask logits: ``new`` everywhere, ``old`` where a weight is frozen (if given)."""
        out = {}
        for n, p in self.model.named_parameters():
            l = torch.full_like(p, new)
            if old is not None:
                l[self.frozen[n].to(p.device)] = old
            out[n] = nn.Parameter(l)
        return out

    def forward(self, logits: dict[str, Tensor], x: Tensor) -> Tensor:
        """The model on ``x`` cut into ``n_samples`` slices, each under its own mask sample."""
        names, params = zip(*self.model.named_parameters())
        # all samples of all tensors in one fused draw; the weights get their gradient through it
        draws = masked_weight_samples_many(params, [logits[n] for n in names], self.n_samples)
        return torch.cat([functional_call(self.model, {n: d[i] for n, d in zip(names, draws)}, (xs,))
                          for i, xs in enumerate(x.chunk(self.n_samples))])

    def evaluate(self, task: int, fn: Callable[[nn.Module], dict]) -> dict:
        """``fn(model)`` with task ``task``'s first layer and thresholded mask applied."""
        t = self.tasks[task]
        weights = {n: p.detach() for n, p in self.model.named_parameters()}
        weights.update({n: w.to(weights[n].device) for n, w in t.reset_weights.items()})
        weights = {n: w * t.mask[n].to(w.device, w.dtype) for n, w in weights.items()}
        with torch.no_grad():
            return fn(_Fixed(self.model, weights))

    def train_task(self, batches, loss_fn: Callable[[Tensor, object], Tensor], *, steps: int, lr: float,
                   alpha: float, seed: int, mask_lr: float | None = None, init_prob: float = 0.9,
                   old_prob: float | None = None, new_prob: float | None = None, clip: float | None = 1.0,
                   eval_fn: Callable[[nn.Module], dict] | None = None, eval_every: int = 1000,
                   checkpoint: Run | None = None, device=None, desc: str = "task",
                   progress: bool | None = None) -> Task:
        """Train one task: free weights and a fresh mask together (Adam, ``lr``; ``mask_lr`` for
        the logits, default ``lr``), with the regularizer ``alpha * sum(logits)``; then freeze
        what the mask uses.

        ``loss_fn(outputs, batch)``. Mask logits start at ``logit(init_prob)``, or, to prefer
        reusing old weights (paper Fig. 14), at ``logit(old_prob)`` on frozen weights and
        ``logit(new_prob)`` elsewhere.
        """
        if (old_prob is None) != (new_prob is None):
            raise ValueError("give both old_prob and new_prob (or neither)")
        for name, p in (("init_prob", init_prob), ("old_prob", old_prob), ("new_prob", new_prob)):
            if p is not None and not 0 < p < 1:
                raise ValueError(f"{name} must be in (0, 1), got {p!r}")
        if checkpoint is not None and checkpoint.complete(_FILES):
            return self._load(checkpoint)
        self._reinit_free(seed)
        logits = self._logits(None if old_prob is None else _logit(old_prob),
                              _logit(init_prob if new_prob is None else new_prob))
        params = dict(self.model.named_parameters())
        hooks = []
        for n, p in params.items():
            p.requires_grad_(True)
            free = (~self.frozen[n]).to(p.device, p.dtype)
            if not bool(free.all()):  # frozen weights get no gradient, so Adam never moves them
                hooks.append(p.register_hook(lambda g, free=free: g * free))
        train = list(params.values()) + list(logits.values())
        opt = torch.optim.Adam([{"params": list(params.values())},
                                {"params": list(logits.values()), "lr": mask_lr or lr}], lr=lr)
        get = _batch_source(batches, device)

        def loss_of_batch(batch):
            task = loss_fn(self.forward(logits, batch[0]), batch)
            return task + alpha * sum(l.sum() for l in logits.values()), {"loss": task.detach()}

        holder = nn.ModuleDict({"model": self.model, "logits": nn.ParameterDict(
            {n.replace(".", "/"): l for n, l in logits.items()})})
        try:
            self.model.train()
            log = _loop(module=holder, train_step=TrainStep(loss_of_batch, train, opt, clip), get=get,
                        steps=steps, optimizer=opt, scheduler=None, evaluate=None, eval_every=eval_every,
                        checkpoint=checkpoint, checkpoint_every=1000, desc=desc, progress=progress)
        finally:
            for h in hooks:
                h.remove()
            for p in params.values():
                p.requires_grad_(False)
            self.model.eval()
        mask = Mask({n: torch.sigmoid(l.detach()) > 0.5 for n, l in logits.items()})
        task = Task(mask, {n: params[n].detach().clone() for n in self.reset}, log)
        self._finish(task)
        if eval_fn is not None:
            task.log.append({"step": steps, **self.evaluate(len(self.tasks) - 1, eval_fn)})
        if checkpoint is not None:
            self._save(checkpoint, task)
        return task

    def _finish(self, task: Task) -> None:
        self.tasks.append(task)
        used = task.mask.replace({n: torch.zeros_like(task.mask[n]) for n in self.reset})
        self.frozen = self.frozen | used

    def _save(self, run: Run, task: Task) -> None:
        import pandas as pd
        run.save_tensors("weights.safetensors", {n: p.detach().cpu().contiguous()
                                                 for n, p in self.model.named_parameters()})
        run.save_tensors("mask.safetensors", task.mask.to_dict())
        run.save_tensors("reset.safetensors", {n: w.cpu().contiguous() for n, w in task.reset_weights.items()})
        run.save_frame("log.csv", pd.DataFrame(task.log))
        run.mark_done()
        run.clear_checkpoint()

    def _load(self, run: Run) -> Task:
        saved = run.load_tensors("weights.safetensors")
        with torch.no_grad():
            for n, p in self.model.named_parameters():
                p.copy_(saved[n].to(p.device))
        mask = Mask(run.load_tensors("mask.safetensors"))
        mask = mask.select([n for n, _ in self.model.named_parameters()])
        task = Task(mask, run.load_tensors("reset.safetensors"),
                    run.load_frame("log.csv").to_dict("records"))
        self._finish(task)
        return task
