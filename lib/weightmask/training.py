"""The two loops of the method: train a network's weights; train a mask on a target task.

Both take ``batches`` (an iterable, cycled, or a function ``step -> batch``) and
``loss_fn(model, batch) -> scalar``, clip gradients, show a progress bar, evaluate
periodically, and with ``checkpoint=run`` (a :class:`weightmask.store.Run`) save their
state into the run store: a finished run is reused, a killed one resumes.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils import _pytree as pytree
from tqdm import tqdm

from . import settings
from .device import resolve_device
from .mask import Mask
from .masking import MaskedModel
from .step import TrainStep
from .store import Run, derive_seed

__all__ = ["train_weights", "train_mask", "alpha_from_beta", "step_batches"]

Batches = Iterable | Callable[[int], Any]
LossFn = Callable[[nn.Module, Any], torch.Tensor]
EvalFn = Callable[[nn.Module], Mapping[str, float]]

WEIGHTS_FILE, MASK_FILE, LOGITS_FILE, LOG_FILE = ("weights.safetensors", "mask.safetensors",
                                                  "logits.safetensors", "log.csv")


def alpha_from_beta(beta: float, batch_size: int) -> float:
    """The paper's convention ``beta = batch_size * alpha`` (App. C.2), solved for alpha."""
    if not batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer to convert beta, got {batch_size!r}")
    return beta / batch_size


def _batch_source(batches: Batches, device) -> Callable[[int], Any]:
    """``step -> batch`` on ``device``. Iterables are cycled (re-iterated when exhausted) and
    read in step order, so a run resumed at step s skips the first s batches as the
    interrupted run consumed them; a one-shot iterator cannot be cycled and says so."""
    move = (lambda b: b) if device is None else \
        (lambda b: pytree.tree_map(lambda t: t.to(device) if isinstance(t, torch.Tensor) else t, b))
    if callable(batches):
        return lambda step: move(batches(step))
    if not isinstance(batches, Iterable):
        raise TypeError(f"batches must be an iterable of batches or a function step -> batch, "
                        f"got {type(batches).__name__}")
    one_shot = iter(batches) is batches
    it, position, served = iter(()), 0, 0

    def following():
        nonlocal it, served
        for _ in range(2):
            try:
                batch = next(it)
                served += 1
                return batch
            except StopIteration:
                if one_shot and served:
                    raise ValueError(f"batches ran out after {served} batches: an iterator can be read "
                                     f"only once; pass a list, a re-iterable (e.g. a DataLoader) or a "
                                     f"function step -> batch") from None
                it = iter(batches)
        raise ValueError("batches is empty")

    def get(step: int):
        nonlocal position
        while position < step:  # resumed: skip what the interrupted run consumed
            following()
            position += 1
        position += 1
        return move(following())
    return get


def step_batches(make: Callable[[torch.Generator], Callable[[int], Any]], seed: int) -> Callable[[int], Any]:
    """``step -> batch`` from ``make(generator)``, with the generator re-seeded from (seed, step)
    before every batch: the batch at a step depends on nothing else, so a resumed run draws
    exactly the batches the uninterrupted one would have."""
    generator = torch.Generator()
    draw = make(generator)

    def get(step: int):
        generator.manual_seed(derive_seed(seed, step))
        return draw(step)
    return get


def _check_count(name: str, value: int, least: int = 0) -> None:
    """A clear error unless ``value`` is an int >= ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def _check_loop(steps: int, eval_every: int, checkpoint_every: int) -> None:
    _check_count("steps", steps)
    _check_count("eval_every", eval_every, 1)
    _check_count("checkpoint_every", checkpoint_every, 1)


def _plain(value: Any) -> Any:
    """A logged value as a plain Python number (checkpoints load without pickle)."""
    return value.item() if hasattr(value, "item") else value


def _progress(steps: int, start: int, desc: str, progress: bool | None) -> tqdm:
    if progress is None:
        progress = settings.progress()
    return tqdm(total=steps, initial=start, desc=desc, disable=not progress, leave=False,
                dynamic_ncols=True, mininterval=1.0)


_CHECK_EVERY = 100  # steps between checks that the loss stayed finite: each check waits for a GPU


def _loop(*, module: nn.Module, train_step: TrainStep, get: Callable[[int], Any],
          steps: int, optimizer: torch.optim.Optimizer, scheduler,
          evaluate: Callable[[], Mapping[str, float]] | None, eval_every: int,
          checkpoint: Run | None, checkpoint_every: int, desc: str, progress: bool | None
          ) -> list[dict]:
    """Shared optimisation loop with periodic evaluation and resumable checkpoints."""
    log: list[dict] = []
    start = 0
    state = checkpoint.load_checkpoint() if checkpoint is not None else None
    if state is not None:
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():  # GPU mask samples
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        start, log = state["step"], state["log"]

    def save(step: int) -> None:
        if checkpoint is not None:
            checkpoint.save_checkpoint({
                "step": step, "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "rng": torch.get_rng_state(), "log": log,
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None})

    bar = _progress(steps, start, desc, progress)
    finite = None  # all losses since the last check finite? A device tensor: no sync per step
    checked = start

    def check(done: int) -> None:
        nonlocal finite, checked
        if finite is not None and not bool(finite):
            raise FloatingPointError(f"{desc}: the loss became inf or nan between steps {checked} "
                                     f"and {done}; the last checkpoint holds the state before it")
        finite, checked = None, done

    try:
        for step in range(start, steps):
            loss, parts = train_step(get(step))
            ok = torch.isfinite(loss.detach())
            finite = ok if finite is None else finite & ok
            if scheduler is not None:
                scheduler.step()
            done = step + 1
            evaluating = evaluate is not None and (done % eval_every == 0 or done == steps)
            saving = checkpoint is not None and done % checkpoint_every == 0 and done < steps
            if evaluating or saving or done % _CHECK_EVERY == 0 or done == steps:
                check(done)  # before anything is logged or saved
            if evaluating:
                row = {"step": done, **{k: float(v) for k, v in parts.items()},
                       **{k: _plain(v) for k, v in dict(evaluate()).items()}}
                log.append(row)
                bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k != "step"}, refresh=False)
            bar.update(1)
            if saving:
                save(done)
    finally:
        bar.close()
    return log


def _finish(run: Run | None, log: list[dict]) -> None:
    if run is not None:
        run.save_frame(LOG_FILE, pd.DataFrame(log))
        run.mark_done()
        run.clear_checkpoint()


def _untied(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with each tied tensor once (safetensors refuses shared memory); loading it with
    ``strict=False`` fills the other names, which are the same parameter."""
    out, seen = {}, set()
    for k, v in state.items():
        tie = (v.data_ptr(), v.shape, v.stride()) if v.numel() else None
        if tie is None or tie not in seen:
            out[k] = v.detach().contiguous()
            seen.add(tie)
    return out


def train_weights(model: nn.Module, batches: Batches, loss_fn: LossFn, *, steps: int,
                  lr: float = 1e-3, clip: float | None = 1.0,
                  optimizer: Callable[[list], torch.optim.Optimizer] | None = None,
                  scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
                  eval_fn: EvalFn | None = None, eval_every: int = 1000,
                  checkpoint: Run | None = None, checkpoint_every: int = 1000,
                  device=None, desc: str = "train weights", progress: bool | None = None,
                  log: list | None = None) -> nn.Module:
    """Train ``model`` in place (Adam, lr 1e-3, clipping 1: paper App. C.2) and return it.

    ``optimizer`` / ``scheduler`` are factories (``params -> Optimizer``, ``opt -> scheduler``)
    for other schedules. With ``checkpoint=run`` a finished run just loads its weights.
    Evaluation rows (``eval_fn(model)`` every ``eval_every`` steps) are appended to ``log``.
    """
    _check_loop(steps, eval_every, checkpoint_every)
    device = None if device is None else resolve_device(device)
    if checkpoint is not None and checkpoint.complete((WEIGHTS_FILE, LOG_FILE)):
        model.load_state_dict(checkpoint.load_tensors(WEIGHTS_FILE), strict=False)
        if log is not None:
            log.extend(checkpoint.load_frame(LOG_FILE).to_dict("records"))
        return model
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters (all have requires_grad=False)")
    opt = optimizer(params) if optimizer is not None else torch.optim.Adam(params, lr=lr)
    sched = scheduler(opt) if scheduler is not None else None
    get = _batch_source(batches, device)

    def loss_of_batch(batch):
        loss = loss_fn(model, batch)
        return loss, {"loss": loss.detach()}

    def evaluate():
        was = model.training
        model.eval()
        with torch.no_grad():
            out = eval_fn(model)
        model.train(was)
        return out

    model.train()
    rows = _loop(module=model, train_step=TrainStep(loss_of_batch, params, opt, clip), get=get,
                 steps=steps, optimizer=opt, scheduler=sched, evaluate=evaluate if eval_fn else None,
                 eval_every=eval_every, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                 desc=desc, progress=progress)
    model.eval()
    if checkpoint is not None:
        checkpoint.save_tensors(WEIGHTS_FILE, _untied(model.state_dict()))
    _finish(checkpoint, rows)
    if log is not None:
        log.extend(rows)
    return model


def train_mask(model: nn.Module | MaskedModel, batches: Batches, loss_fn: LossFn, *, steps: int,
               alpha: float | None = None, beta: float | None = None, batch_size: int | None = None,
               lr: float = 1e-2, n_samples: int | None = None, init_prob: float | None = None, include=None,
               exclude=None, tau: float | None = None, clip: float | None = 1.0, train_mode: bool = False,
               eval_fn: EvalFn | None = None, eval_every: int = 1000,
               checkpoint: Run | None = None, checkpoint_every: int = 1000, device=None,
               desc: str = "train mask", progress: bool | None = None,
               log: list | None = None, graph: bool | None = None) -> Mask:
    """Train a mask on a target task with the network frozen, and return it (paper Sec. 2).

    The loss is ``loss_fn(masked, batch) + alpha * sum(logits)``; give ``alpha``, or the
    paper's ``beta = batch_size * alpha`` together with ``batch_size``. ``model`` may be a
    ready :class:`MaskedModel` (for its ``in_dims`` / ``out_dims`` or a partly fixed mask);
    otherwise one is made with ``n_samples`` (4), ``init_prob`` (0.9), ``include``, ``exclude``,
    ``tau`` (1), which a ready MaskedModel already fixed (giving them too is an error).
    The frozen network runs in eval mode unless ``train_mode``. ``eval_fn(masked)`` is called
    under the current thresholded mask. ``graph`` (default: when the logits are on a GPU)
    replays each step as a CUDA graph (:class:`weightmask.step.TrainStep`): ``loss_fn`` must
    then not synchronise with the CPU and batches must keep their shapes.
    """
    _check_loop(steps, eval_every, checkpoint_every)
    device = None if device is None else resolve_device(device)
    if (alpha is None) == (beta is None):
        raise ValueError(f"give exactly one of alpha or beta (beta = batch_size * alpha); "
                         f"got alpha={alpha!r}, beta={beta!r}")
    if beta is not None:
        if batch_size is None:
            raise ValueError("beta needs batch_size (the paper's beta = batch_size * alpha)")
        alpha = alpha_from_beta(beta, batch_size)
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    made = {"n_samples": n_samples, "init_prob": init_prob, "include": include, "exclude": exclude, "tau": tau}
    if isinstance(model, MaskedModel):
        given = [k for k, v in made.items() if v is not None]
        if given:
            raise ValueError(f"model is a ready MaskedModel, which fixed {', '.join(given)} when it was made; "
                             f"pass them to MaskedModel(...) instead, or pass the plain nn.Module")
        masked = model
    else:
        masked = MaskedModel(model, n_samples=4 if n_samples is None else n_samples,
                             init_prob=0.9 if init_prob is None else init_prob, include=include,
                             exclude=exclude, tau=1.0 if tau is None else tau)
    if checkpoint is not None and checkpoint.complete((MASK_FILE, LOGITS_FILE, LOG_FILE)):
        if log is not None:
            log.extend(checkpoint.load_frame(LOG_FILE).to_dict("records"))
        mask = Mask(checkpoint.load_tensors(MASK_FILE))
        masked._check_mask(mask)
        # in the model's parameter order, as a freshly trained mask (files keep no order)
        mask = mask.select([n for n in masked.names if n in mask])
        saved = checkpoint.load_tensors(LOGITS_FILE)  # the probabilities too, e.g. for Fig. 9
        with torch.no_grad():
            for name, l in zip(masked.names, masked.logits):
                l.copy_(saved[name])
        return mask
    if device is not None:
        masked.to(device)
    params = list(masked.parameters())
    if graph is None:  # on a GPU the step is launch-bound: replay it as a CUDA graph
        graph = bool(params) and all(p.is_cuda for p in params)
    opt = torch.optim.Adam(params, lr=lr, capturable=graph)
    get = _batch_source(batches, device)

    def loss_of_batch(batch):
        task = loss_fn(masked, batch)
        return task + alpha * masked.regularizer(), {"loss": task.detach()}

    def evaluate():
        mask = masked.mask()
        with torch.no_grad(), masked.fixed(mask):
            return {"density": mask.density(), **(eval_fn(masked) if eval_fn is not None else {})}

    was = masked.model.training
    masked.model.train(train_mode)
    try:
        rows = _loop(module=masked.logits, train_step=TrainStep(loss_of_batch, params, opt, clip, graph),
                     get=get, steps=steps, optimizer=opt, scheduler=None, evaluate=evaluate,
                     eval_every=eval_every,
                     checkpoint=checkpoint, checkpoint_every=checkpoint_every, desc=desc,
                     progress=progress)
    finally:
        masked.model.train(was)
    mask = masked.mask()
    if checkpoint is not None:
        checkpoint.save_tensors(MASK_FILE, mask.to_dict())
        checkpoint.save_tensors(LOGITS_FILE, {n: l.detach().cpu().contiguous()
                                              for n, l in zip(masked.names, masked.logits)})
    _finish(checkpoint, rows)
    if log is not None:
        log.extend(rows)
    return mask
