"""Switching from a torch.optim class mid-training (issue 14, point 4).

A run trains N steps with torch's class, saves its state dict (through ``torch.save`` and
``torch.load(weights_only=True)``, as a checkpoint would), loads it into discover's class built
with the same keyword arguments, and continues M steps; it must land where torch's class lands
when it continues (float64, 1e-10): ``exp_avg`` became ``m``, ``momentum_buffer`` ``buf``, the
tensor step counts ints, and the group's hyperparameters are the saved ones.
"""

from __future__ import annotations

import io

import pytest
import torch

import discover
from discover.references import MuonFloat64

N, M = 8, 8

#: (discover entry, torch class, keyword arguments)
CASES = [
    ("adam", "Adam", dict(lr=0.01)),
    ("adam", "Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01)),
    ("adam", "Adam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("sgd", "SGD", dict(lr=0.05)),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    ("rmsprop", "RMSprop", dict(lr=0.01, centered=True)),
    ("rmsprop", "RMSprop", dict(lr=0.005, momentum=0.5)),
    ("adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("adadelta", "Adadelta", dict(lr=0.5, rho=0.95)),
    ("adamax", "Adamax", dict(lr=0.01)),
    ("nadam", "NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.05)),
    ("radam", "RAdam", dict(lr=0.01)),
    ("rprop", "Rprop", dict(lr=0.02)),
    ("asgd", "ASGD", dict(lr=0.05, lambd=0.01, t0=3.0)),
    ("adafactor", "Adafactor", dict(lr=0.05, beta2_decay=-0.5)),
]


@pytest.fixture(autouse=True)
def _float64():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps NAdam's mu_product in the default dtype
    yield
    torch.set_default_dtype(dtype)


def weights(matrices_only=False):
    gen = torch.Generator().manual_seed(3)
    shapes = [(8, 4), (3, 8)] if matrices_only else [(8, 4), (8,), (3, 8), (3,)]
    return [(torch.randn(s, generator=gen) * 0.5).requires_grad_() for s in shapes]


def train(opt, params, steps, start):
    """``steps`` steps on minibatches that depend on the step index (so a resumed run sees the
    batches the uninterrupted one would)."""
    for k in range(start, start + steps):
        gen = torch.Generator().manual_seed(100 + k)
        x, y = torch.randn(16, 4, generator=gen), torch.randn(16, 3, generator=gen)
        opt.zero_grad()
        if len(params) == 2:
            out = torch.tanh(x @ params[0].T) @ params[1].T
        else:
            out = torch.tanh(x @ params[0].T + params[1]) @ params[2].T + params[3]
        ((out - y) ** 2).mean().backward()
        opt.step()


def saved(opt) -> bytes:
    """``opt.state_dict()`` as ``torch.save`` writes it."""
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    return buffer.getvalue()


def loaded(data: bytes) -> dict:
    """A state dict as ``torch.load(weights_only=True)`` reads it (fresh tensors each time:
    load_state_dict keeps the tensors it is given where dtype and device already fit)."""
    return torch.load(io.BytesIO(data), weights_only=True)


def checkpoint(opt) -> dict:
    return loaded(saved(opt))


def switch(make_theirs, make_ours, matrices_only=False):
    """(torch's class continued, discover's class continued from torch's state dict)."""
    params = weights(matrices_only)
    theirs = make_theirs(params)
    train(theirs, params, N, 0)
    saved = checkpoint(theirs)
    copy = [p.detach().clone().requires_grad_() for p in params]
    ours = make_ours(copy)
    ours.load_state_dict(saved)
    train(theirs, params, M, N)
    train(ours, copy, M, N)
    return [p.detach() for p in params], [p.detach() for p in copy], ours


def rel(a, b) -> float:
    return max(((x - y).abs().max() / y.abs().max()).item() for x, y in zip(a, b))


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=str)
def test_a_run_switches_from_torch_mid_training(name, cls, kwargs):
    theirs, ours, opt = switch(lambda ps: getattr(torch.optim, cls)(ps, **kwargs),
                               lambda ps: discover.optimizer(name)(ps, **kwargs))
    assert rel(ours, theirs) <= 1e-10
    steps = {s["step"] for s in opt.state.values()}
    # ints; SGD keeps no count (its buffer counts as one step) and no state without momentum
    assert steps == ({M} if name == "sgd" and not kwargs.get("momentum") else
                     {M + 1} if name == "sgd" else {N + M})


def test_the_saved_hyperparameters_win_as_in_torch():
    """load_state_dict takes the groups' values from the state dict, whatever the constructor
    said (torch's behaviour)."""
    theirs, ours, opt = switch(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99)),
                               lambda ps: discover.optimizer("adam")(ps, lr=0.5))
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"] == (0.8, 0.99)
    assert rel(ours, theirs) <= 1e-10


def test_muon_switches_from_torch_muon():
    """torch.optim.Muon's momentum buffers load; the run continues as the float64 twin of
    torch's Muon continues from the same state (torch's own continuation differs by its
    bfloat16 Newton-Schulz)."""
    params = weights(matrices_only=True)
    first = torch.optim.Muon(params, lr=0.02)
    train(first, params, N, 0)
    data = saved(first)
    runs = []
    for make in (MuonFloat64, discover.optimizer("muon")):
        copy = [p.detach().clone().requires_grad_() for p in params]
        opt = make(copy, lr=0.02)
        opt.load_state_dict(loaded(data))
        train(opt, copy, M, N)
        runs.append([p.detach() for p in copy])
    assert rel(runs[1], runs[0]) <= 1e-10


def test_state_it_cannot_map_is_refused_in_one_line():
    """Another class's state (Adam's exp_avg into SGD): refusing beats silently restarting."""
    params = weights()
    theirs = torch.optim.Adam(params)
    train(theirs, params, 2, 0)
    ours = discover.optimizer("sgd")([p.detach().clone() for p in params], momentum=0.9)
    with pytest.raises(ValueError, match=r"cannot load the state \['exp_avg'") as info:
        ours.load_state_dict(theirs.state_dict())
    assert "\n" not in str(info.value)


def test_own_state_dict_still_round_trips_after_a_switch():
    _, _, opt = switch(lambda ps: torch.optim.RMSprop(ps, lr=0.01, centered=True),
                       lambda ps: discover.optimizer("rmsprop")(ps, centered=True))
    again = discover.optimizer("rmsprop")([p for g in opt.param_groups for p in g["params"]])
    again.load_state_dict(checkpoint(opt))
    assert again.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
    for a, b in zip(again.state_dict()["state"].values(), opt.state_dict()["state"].values()):
        assert a.keys() == b.keys() == {"step", "v", "mg"}
        assert all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)
