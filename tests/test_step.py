"""TrainStep: the eager step, and the optimizer-state set-up that precedes a CUDA graph capture."""
import pytest
import torch

from weightmask.step import TrainStep


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.nn.Parameter(torch.randn(4, 3, generator=g))
    x, y = torch.randn(16, 3, generator=g), torch.randn(16, 4, generator=g)
    return w, (x, y), lambda b: (((b[0] @ w.T - b[1]) ** 2).mean(), {})


def test_eager_step_is_a_plain_optimisation_step():
    w, batch, f = _problem()
    ref = w.detach().clone().requires_grad_()
    opt_ref = torch.optim.Adam([ref], lr=0.1)
    step = TrainStep(f, [w], torch.optim.Adam([w], lr=0.1), clip=1.0)
    for _ in range(3):
        step(batch)
        opt_ref.zero_grad()
        ((batch[0] @ ref.T - batch[1]) ** 2).mean().backward()
        torch.nn.utils.clip_grad_norm_([ref], 1.0)
        opt_ref.step()
    torch.testing.assert_close(w.detach(), ref.detach())


def test_graph_needs_cuda_parameters():
    w, _, f = _problem()
    with pytest.raises(ValueError, match="CUDA"):
        TrainStep(f, [w], torch.optim.Adam([w]), graph=True)


@pytest.mark.parametrize("trained", [0, 2])
def test_optimizer_state_set_up_changes_nothing(trained):
    w, batch, f = _problem(1)
    opt = torch.optim.Adam([w], lr=0.1)
    step = TrainStep(f, [w], opt)
    for _ in range(trained):
        step(batch)
    before_w = w.detach().clone()
    before = {k: v.clone() for k, v in opt.state[w].items()} if trained else None
    step._create_optimizer_state()
    torch.testing.assert_close(w.detach(), before_w)
    state = opt.state[w]
    assert set(state) >= {"step", "exp_avg", "exp_avg_sq"}
    for k, v in state.items():
        expected = before[k] if before else torch.zeros_like(v)
        torch.testing.assert_close(v, expected)
    assert w.grad is None
    # the state it leaves behind continues exactly like an untouched optimizer
    ref_w = before_w.clone().requires_grad_()
    ref_opt = torch.optim.Adam([ref_w], lr=0.1)
    if before:
        ref_opt.state[ref_w] = {k: v.clone() for k, v in before.items()}
    step(batch)
    ref_opt.zero_grad()
    ((batch[0] @ ref_w.T - batch[1]) ** 2).mean().backward()
    ref_opt.step()
    torch.testing.assert_close(w.detach(), ref_w.detach())
