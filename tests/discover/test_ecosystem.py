"""Exported classes among torch's tools (issue 14, point 3): LR schedulers (a group's ``lr``,
and OneCycleLR's ``betas`` or ``momentum``, read every step), param groups with their own
hyperparameters and flags, ``state_dict`` into a fresh instance (and onto another device where
there is one), closures, ``torch.compile`` of the step, and a clear error for sparse gradients.
Each compares with torch.optim's class doing the same (float64, 1e-10) or with the
uninterrupted run.
"""

from __future__ import annotations

import io

import pytest
import torch
from torch.optim import lr_scheduler

import discover

STEPS = 12


@pytest.fixture(autouse=True)
def _float64():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)


def weights(device="cpu"):
    gen = torch.Generator().manual_seed(3)
    return [(torch.randn(s, generator=gen) * 0.5).to(device).requires_grad_()
            for s in ((8, 4), (8,), (3, 8), (3,))]


def loss_at(params, k):
    """The step-``k`` minibatch loss of a small tanh MLP."""
    gen = torch.Generator().manual_seed(100 + k)
    x, y = torch.randn(16, 4, generator=gen), torch.randn(16, 3, generator=gen)
    x, y = x.to(params[0].device), y.to(params[0].device)
    out = torch.tanh(x @ params[0].T + params[1]) @ params[2].T + params[3]
    return ((out - y) ** 2).mean()


def train(opt, params, steps=STEPS, start=0, scheduler=None, step=None):
    """Train ``steps`` steps; returns the learning rates seen."""
    lrs = []
    for k in range(start, start + steps):
        opt.zero_grad()
        loss = loss_at(params, k)
        loss.backward()
        (step or opt.step)()
        lrs.append(float(opt.param_groups[0]["lr"]))
        if scheduler is not None:
            scheduler.step()
    return lrs


def rel(a, b) -> float:
    return max(((x.detach() - y.detach()).abs().max() / y.detach().abs().max()).item()
               for x, y in zip(a, b))


#: (discover entry, keyword arguments, scheduler); torch's class gets the same arguments
SCHEDULED = [
    ("adam", dict(lr=0.01), lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ("adam", dict(lr=0.01, amsgrad=True),  # cycles betas[0] as well as lr
     lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=STEPS)),
    ("adam", dict(lr=torch.tensor(0.01, dtype=torch.float64)),  # a Tensor lr, filled in place
     lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8)),
    ("sgd", dict(lr=0.05, momentum=0.9),  # cycles momentum
     lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=STEPS)),
    ("sgd", dict(lr=0.05), lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=STEPS)),
    ("rmsprop", dict(lr=0.01, centered=True), lambda o: lr_scheduler.LambdaLR(o, lambda k: 0.9 ** k)),
]


@pytest.mark.parametrize("name, kwargs, make_scheduler", SCHEDULED,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SCHEDULED)])
def test_lr_schedulers_act_at_every_step(name, kwargs, make_scheduler):
    runs = []
    for cls in (discover.optimizer(name), getattr(torch.optim, discover.get(name)
                                                  .signature.reference.rsplit(".", 1)[1])):
        params = weights()
        args = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
        opt = cls(params, **args)
        lrs = train(opt, params, scheduler=make_scheduler(opt))
        runs.append((params, lrs))
    (ours, our_lrs), (theirs, their_lrs) = runs
    assert our_lrs == their_lrs and len(set(our_lrs)) > 1
    assert rel(ours, theirs) <= 1e-10


def test_the_program_hyperparameter_class_reads_lr_every_step_too():
    ours, theirs = weights(), weights()
    opt = discover.optimizer("adam", signature=False)(ours, lr=0.01)
    ref = torch.optim.Adam(theirs, lr=0.01)
    train(opt, ours, scheduler=lr_scheduler.StepLR(opt, step_size=2, gamma=0.5))
    train(ref, theirs, scheduler=lr_scheduler.StepLR(ref, step_size=2, gamma=0.5))
    assert rel(ours, theirs) <= 1e-10


def test_reduce_lr_on_plateau():
    runs = []
    for cls in (discover.optimizer("sgd"), torch.optim.SGD):
        params = weights()
        opt = cls(params, lr=0.5, momentum=0.9)
        plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
        for k in range(STEPS):
            opt.zero_grad()
            loss = loss_at(params, 0)
            loss.backward()
            opt.step()
            plateau.step(loss.item())
        runs.append((params, opt.param_groups[0]["lr"]))
    assert runs[0][1] == runs[1][1] < 0.5
    assert rel(runs[0][0], runs[1][0]) <= 1e-10


def test_param_groups_with_their_own_hyperparameters_and_flags():
    """Per group: lr, betas, weight decay, and the flags that pick a program (amsgrad) or negate
    the gradient (maximize), as torch.optim.Adam takes them."""
    def groups(params):
        return [{"params": params[:2], "lr": 0.05, "betas": (0.8, 0.9), "amsgrad": True},
                {"params": params[2:3], "weight_decay": 0.1, "maximize": True},
                {"params": params[3:], "decoupled_weight_decay": True, "weight_decay": 0.5}]

    runs = []
    for cls in (discover.optimizer("adam"), torch.optim.Adam):
        for foreach in (False, True):
            params = weights()
            train(cls(groups(params), lr=0.01, foreach=foreach), params)
            runs.append(params)
    for run in runs[:2]:
        assert rel(run, runs[2]) <= 1e-10


def test_state_dict_into_a_fresh_instance_continues_the_run():
    for make in (lambda ps: discover.optimizer("nadam")(ps, lr=0.01, weight_decay=0.01),
                 lambda ps: discover.optimizer("nadam", signature=False)(ps, lr=0.01)):
        whole = weights()
        train(make(whole), whole, 2 * STEPS)
        params = weights()
        opt = make(params)
        train(opt, params, STEPS)
        buffer = io.BytesIO()
        torch.save(opt.state_dict(), buffer)
        buffer.seek(0)
        fresh = [p.detach().clone().requires_grad_() for p in params]
        again = make(fresh)
        again.load_state_dict(torch.load(buffer, weights_only=True))
        train(again, fresh, STEPS, start=STEPS)
        assert rel(fresh, whole) == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_state_dict_moves_to_another_device():
    """Saved on the CPU, loaded by an instance on the GPU (torch casts the state to each
    parameter's device); the run continues as the uninterrupted CPU run to rounding."""
    whole = weights()
    Adam = discover.optimizer("adam")
    train(Adam(whole, lr=0.01, amsgrad=True), whole, 2 * STEPS)
    params = weights()
    opt = Adam(params, lr=0.01, amsgrad=True)
    train(opt, params, STEPS)
    fresh = [p.detach().cuda().requires_grad_() for p in params]
    again = Adam(fresh, lr=0.01, amsgrad=True)
    again.load_state_dict(opt.state_dict())
    assert all(t.is_cuda for s in again.state.values() for k, t in s.items() if k != "step")
    train(again, fresh, STEPS, start=STEPS)
    assert rel([p.cpu() for p in fresh], whole) <= 1e-10


def test_closure_returns_the_loss_and_recomputes_gradients():
    runs = []
    for cls in (discover.optimizer("adamw"), torch.optim.AdamW):
        params = weights()
        opt = cls(params, lr=0.01, maximize=False)
        losses = []
        for k in range(STEPS):
            def closure(k=k):
                opt.zero_grad()
                loss = loss_at(params, k)
                loss.backward()
                return loss
            losses.append(opt.step(closure).item())
        runs.append((params, losses))
    assert runs[0][1] == pytest.approx(runs[1][1], rel=1e-12, abs=0)
    assert rel(runs[0][0], runs[1][0]) <= 1e-10


@pytest.mark.parametrize("make", [lambda ps: discover.optimizer("adam")(ps),
                                  lambda ps: discover.optimizer("lion")(ps)], ids=["adam", "lion"])
def test_sparse_gradients_get_a_clear_error(make):
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    opt = make(embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    assert embedding.weight.grad.is_sparse
    with pytest.raises(RuntimeError, match="^(Adam|Lion) does not support sparse gradients$"):
        opt.step()


# ---- torch.compile ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_elementwise_step_traces_without_graph_breaks(name):
    """Dynamo captures the whole step of an elementwise program in one graph once it may trace
    the float() of the 0-d scalars (capture_scalar_outputs; without it, each ``float`` in
    ``_scalars_<name>`` is a graph break)."""
    params = weights()
    opt = discover.optimizer(name)(params, lr=0.01)
    loss_at(params, 0).backward()
    with torch._dynamo.config.patch(capture_scalar_outputs=True):
        explained = torch._dynamo.explain(opt.step)()
    torch._dynamo.reset()
    assert explained.graph_break_count == 0 and explained.graph_count == 1


@pytest.mark.slow
def test_compiled_step_matches_the_eager_step():
    """torch.compile(opt.step) through Dynamo (the eager backend: the traced graphs run as
    they are) gives the eager run's weights; slow (Dynamo retraces as the step count changes,
    about 4 s a step on a CPU)."""
    runs = []
    for compiled in (False, True):
        params = weights()
        opt = discover.optimizer("adam")(params, lr=0.01, amsgrad=True)
        with torch._dynamo.config.patch(capture_scalar_outputs=True):
            step = torch.compile(opt.step, backend="eager") if compiled else opt.step
            train(opt, params, 3, step=step)
        runs.append(params)
    torch._dynamo.reset()
    assert rel(runs[1], runs[0]) <= 1e-12


@pytest.mark.slow
def test_inductor_compiled_step_matches_the_eager_step():
    """The default backend (inductor: generated C++ on a CPU) gives the eager run's weights to
    rounding; slow (it compiles for tens of seconds)."""
    runs = []
    for compiled in (False, True):
        params = weights()
        opt = discover.optimizer("adam")(params, lr=0.01)
        with torch._dynamo.config.patch(capture_scalar_outputs=True):
            step = torch.compile(opt.step) if compiled else opt.step
            train(opt, params, 6, step=step)
        runs.append(params)
    torch._dynamo.reset()
    assert rel(runs[1], runs[0]) <= 1e-10
