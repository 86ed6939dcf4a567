"""Library programs as the torch.optim classes users know (issue 14, point 1).

Every entry with a reference :class:`~discover.library.base.Signature` exports a class whose
``__init__`` is its torch.optim class's, which refuses bad values with torch's messages, and which
trains a model as that class does (float64, 1e-10) -- at every setting the entry is verified at,
called with the keyword arguments the entry's reference constructor passes, and at hand-written
cases with the flags, tuples, ``maximize`` and ``foreach``. Driven by the registry: an entry
given a signature is tested without new test code.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from unittest import mock

import pytest
import torch

import discover
from discover.library import REGISTRY
from discover.references import MuonFloat64

SIGNED = sorted(n for n, e in REGISTRY.items() if e.signature is not None)
STEPS = 25
#: torch.optim.Muon's bfloat16 Newton-Schulz takes about 0.2 s a step on a CPU: fewer steps
MUON_STEPS = 6


def reference_class(entry):
    """The torch.optim class of an entry's signature (``"torch.optim.Adam"`` -> the class)."""
    return getattr(torch.optim, entry.signature.reference.rsplit(".", 1)[1])


@contextlib.contextmanager
def float64():
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps NAdam's mu_product in the default dtype
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)


def model_params(matrices_only: bool):
    """A small tanh MLP's float64 weights (no biases where the rule takes matrices only)."""
    gen = torch.Generator().manual_seed(3)
    shapes = [(8, 4), (3, 8)] if matrices_only else [(8, 4), (8,), (3, 8), (3,)]
    return [torch.randn(s, dtype=torch.float64, generator=gen) * 0.5 for s in shapes]


def train(make, matrices_only=False, steps=STEPS, closure=False):
    """The weights after ``steps`` steps of ``make(params)`` on a fixed regression problem."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(16, 4, dtype=torch.float64, generator=gen)
    y = torch.randn(16, 3, dtype=torch.float64, generator=gen)
    params = [p.requires_grad_() for p in model_params(matrices_only)]
    opt = make(params)

    def loss_fn():
        opt.zero_grad()
        h = torch.tanh(x @ params[0].T + (0 if matrices_only else params[1]))
        out = h @ params[-2 if not matrices_only else 1].T + (0 if matrices_only else params[3])
        loss = ((out - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        if closure:
            opt.step(loss_fn)
        else:
            loss_fn()
            opt.step()
    return [p.detach().clone() for p in params]


def rel(a, b) -> float:
    return max(((x - y).abs().max() / y.abs().max().clamp(min=1e-300)).item()
               for x, y in zip(a, b))


def recorded_kwargs(entry, ref, setting):
    """The keyword arguments ``ref.make`` passes to its torch.optim class at ``setting``."""
    cls = reference_class(entry)
    seen = {}

    class Recorder:
        def __init__(self, params, *args, **kwargs):
            bound = inspect.signature(cls).bind(params, *args, **kwargs)
            seen.update({k: v for k, v in bound.arguments.items() if k != "params"})

    hyper = {**entry.program.hyperparameters, **setting}
    with mock.patch.object(torch.optim, cls.__name__, Recorder):
        ref.make([torch.zeros(2, 2, dtype=torch.float64)], hyper)
    return seen


def torch_references(entry):
    return [r for r in entry.references if r.label.startswith(entry.signature.reference)]


# ---- the signature ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED)
def test_init_takes_the_reference_keyword_arguments(name):
    """Same names, order, kinds and defaults as torch's class (an entry that is one of its flags
    changes that default; maximize and foreach are added where torch's class lacks them)."""
    entry = REGISTRY[name]
    ours = inspect.signature(discover.optimizer(name).__init__).parameters
    theirs = inspect.signature(reference_class(entry).__init__).parameters
    changed = dict(entry.signature.defaults)
    for arg, p in theirs.items():
        if arg in ("self", "params"):
            continue
        assert ours[arg].kind == p.kind, arg
        assert ours[arg].default == changed.get(arg, p.default), arg
    extra = [a for a in ours if a not in theirs]
    assert extra == [a for a in ("maximize", "foreach") if a not in theirs]
    assert list(ours)[:len(theirs)] == list(theirs)


@pytest.mark.parametrize("name", SIGNED)
def test_defaults_run_the_entry_program_with_its_defaults(name):
    entry = REGISTRY[name]
    defaults = {k: p.default for k, p in entry.signature.parameters.items()}
    program, hyper = entry.signature.program(defaults, torch.float32)
    assert program == name
    assert hyper.keys() == entry.program.hyperparameters.keys()
    for key, value in entry.program.hyperparameters.items():
        assert float(hyper[key]) == pytest.approx(value, rel=1e-12), key


@pytest.mark.parametrize("name", SIGNED)
def test_every_program_the_flags_pick_is_in_the_class(name):
    sig = REGISTRY[name].signature
    assert set(sig.programs) <= set(REGISTRY)
    module = __import__("sys").modules[discover.optimizer(name).__module__]
    assert set(module._PROGRAMS) == set(sig.programs)


# ---- training as the reference does -------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED)
def test_trains_like_the_reference_at_every_verified_setting(name):
    """Built with the very keyword arguments the entry's reference constructor passes to torch's
    class at each verified setting, per tensor and foreach."""
    entry = REGISTRY[name]
    ours_cls, theirs_cls = discover.optimizer(name), reference_class(entry)
    matrices = entry.min_ndim >= 2
    steps = MUON_STEPS if theirs_cls is getattr(torch.optim, "Muon", None) else STEPS
    assert torch_references(entry), "the signature's class is none of the entry's references"
    with float64():
        for ref in torch_references(entry):
            for setting in entry.settings:
                kwargs = recorded_kwargs(entry, ref, setting)
                theirs = train(lambda ps: theirs_cls(ps, **kwargs), matrices, steps)
                for foreach in (False, True):
                    ours = train(lambda ps: ours_cls(ps, **kwargs, foreach=foreach), matrices,
                                 steps)
                    assert rel(ours, theirs) <= ref.tolerance, (setting, foreach)


#: hand-written calls per torch class: flags, tuples, maximize, foreach, non-default values
CASES = {
    "SGD": [dict(lr=0.05, momentum=0.9, nesterov=True),
            dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.01, maximize=False),
            dict(lr=0.1, maximize=True), dict(lr=0.02, momentum=0.5, foreach=True, fused=None)],
    "Adam": [dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01),
             dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1, maximize=True),
             dict(lr=torch.tensor(0.01, dtype=torch.float64), eps=1e-6), dict(lr=0.02, foreach=True)],
    "AdamW": [dict(lr=0.01, betas=(0.85, 0.95), weight_decay=0.2, maximize=True),
              dict(lr=torch.tensor(0.005, dtype=torch.float64))],
    "RMSprop": [dict(lr=0.01, centered=True, alpha=0.9), dict(lr=0.005, momentum=0.5),
                dict(lr=0.01, weight_decay=0.01, maximize=True, eps=1e-6)],
    "Adagrad": [dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, maximize=True)],
    "Adadelta": [dict(lr=0.5, rho=0.95, weight_decay=0.01, maximize=True)],
    "Adamax": [dict(lr=0.01, betas=(0.8, 0.99), maximize=True, foreach=True)],
    "NAdam": [dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.05, maximize=True),
              dict(lr=0.01, momentum_decay=0.01, betas=(0.8, 0.99))],
    "RAdam": [dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.05),
              dict(lr=0.01, betas=(0.8, 0.9), maximize=True)],
    "Rprop": [dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-4, 0.5), maximize=True)],
    "ASGD": [dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5.0, weight_decay=0.01, maximize=True)],
    "Adafactor": [dict(lr=0.05, beta2_decay=-0.5, eps=(None, 0.01), d=1.5, maximize=True),
                  dict(lr=0.01, eps=(1e-20, 1e-3), weight_decay=0.01)],
}
#: the class each torch class is tested through: the entry it is the primary reference of
ENTRY_OF = {REGISTRY[n].signature.reference.rsplit(".", 1)[1]: n for n in reversed(SIGNED)
            if REGISTRY[n].signature.defaults == ()}


@pytest.mark.parametrize("cls_name, kwargs", [(c, kw) for c, cases in CASES.items()
                                              for kw in cases], ids=str)
def test_trains_like_the_reference_with_its_own_flags(cls_name, kwargs):
    ours_cls = discover.optimizer(ENTRY_OF[cls_name])
    theirs_cls = getattr(torch.optim, cls_name)
    plain = {k: v for k, v in kwargs.items() if k not in ("foreach", "fused")}
    with float64():
        theirs = train(lambda ps: theirs_cls(ps, **plain))
        ours = train(lambda ps: ours_cls(ps, **kwargs))
    assert rel(ours, theirs) <= 1e-10


def test_every_torch_class_with_a_signature_has_cases():
    assert set(ENTRY_OF) == set(CASES) | {"Muon"}


@pytest.mark.parametrize("kwargs", [dict(lr=0.02), dict(lr=0.01, nesterov=False, momentum=0.9),
                                    dict(lr=0.02, weight_decay=0.0, ns_steps=3, maximize=True)],
                         ids=str)
def test_muon_trains_like_torch_muon(kwargs):
    """torch.optim.Muon runs Newton-Schulz in bfloat16: equal to bfloat16 precision; the same
    rule in float64 (discover.references.MuonFloat64) equal to 1e-10."""
    Muon = discover.optimizer("muon")
    plain = {k: v for k, v in kwargs.items() if k != "maximize"}
    with float64():
        ours = train(lambda ps: Muon(ps, **kwargs), matrices_only=True)
        if kwargs.get("maximize"):  # torch.optim.Muon has no maximize: the gradient negated
            return _check_muon_maximize(Muon, plain, ours)
        f64 = train(lambda ps: MuonFloat64(ps, **plain), matrices_only=True)
        bf16 = train(lambda ps: torch.optim.Muon(ps, **plain), True, MUON_STEPS)
        short = train(lambda ps: Muon(ps, **kwargs), True, MUON_STEPS)
    assert rel(ours, f64) <= 1e-10
    assert rel(short, bf16) <= 2e-2


def _check_muon_maximize(Muon, kwargs, ours):
    class Negated(MuonFloat64):
        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.grad.neg_()
            return super().step(closure)

    assert rel(ours, train(lambda ps: Negated(ps, **kwargs), matrices_only=True)) <= 1e-10


def test_closure_steps_like_the_reference():
    with float64():
        ours = train(lambda ps: discover.optimizer("adam")(ps, lr=0.01), closure=True)
        theirs = train(lambda ps: torch.optim.Adam(ps, lr=0.01), closure=True)
    assert rel(ours, theirs) <= 1e-10


def test_flags_pick_programs_and_their_state():
    RMSprop, Adam = discover.optimizer("rmsprop"), discover.optimizer("adam")
    for cls, kwargs, keys in [(RMSprop, {}, {"step", "v"}),
                              (RMSprop, dict(centered=True), {"step", "v", "mg"}),
                              (RMSprop, dict(momentum=0.5), {"step", "v", "buf"}),
                              (Adam, dict(amsgrad=True), {"step", "m", "v", "vmax"})]:
        p = torch.nn.Parameter(torch.ones(3))
        opt = cls([p], **kwargs)
        p.grad = torch.ones(3)
        opt.step()
        assert set(opt.state[p]) == keys, kwargs
    assert discover.optimizer("amsgrad")([torch.zeros(1)]).defaults["amsgrad"] is True


@pytest.mark.parametrize("name, kwargs", [
    ("adam", dict(amsgrad=True, decoupled_weight_decay=True)),
    ("adamw", dict(amsgrad=True)),
    ("rmsprop", dict(centered=True, momentum=0.9)),
    ("muon", dict(adjust_lr_fn="match_rms_adamw")),
    ("muon", dict(ns_coefficients=(3.0, -4.0, 2.0))),
    ("adam", dict(differentiable=True)),
    ("adam", dict(capturable=True)),
])
def test_what_no_program_runs_is_refused_when_built(name, kwargs):
    """Flag combinations and options torch accepts but no library program runs: a one-line
    ValueError at construction (in a later param group too), never a silent other rule."""
    params = [torch.zeros(2, 2)]
    getattr(torch.optim, REGISTRY[name].signature.reference.rsplit(".", 1)[1])(params, **kwargs)
    cls = discover.optimizer(name)
    with pytest.raises(ValueError, match="not in the library|not supported|does not support"):
        cls(params, **kwargs)
    opt = cls(params)
    with pytest.raises(ValueError, match="not in the library|not supported|does not support"):
        opt.add_param_group({"params": [torch.zeros(2, 2)], **kwargs})


# ---- checks, with torch's messages ----------------------------------------------------------------


def bad_calls(entry):
    """Keyword arguments for which torch's class may raise: each number made negative or NaN,
    each tuple element pushed out of range, a 2-element Tensor lr, and clashing flags."""
    calls = [dict(lr=torch.tensor([0.1, 0.2]))]
    for name, p in entry.signature.parameters.items():
        d = p.default
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            calls += [{name: -1.0}, {name: math.nan}, {name: 2.0}]
        elif isinstance(d, tuple):
            for i in range(len(d)):
                for value in (-1.0, 1.5, 0, math.nan):
                    calls.append({name: d[:i] + (value,) + d[i + 1:]})
    calls += [dict(nesterov=True, momentum=0.0), dict(nesterov=True, momentum=0.9, dampening=0.1),
              dict(fused=True, foreach=True), dict(fused=True, differentiable=True),
              dict(betas=(0.9, torch.tensor(0.99)))]
    names = entry.signature.parameters
    return [c for c in calls if set(c) <= set(names)]


def outcome(make):
    try:
        make()
    except (ValueError, RuntimeError, TypeError) as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


@pytest.mark.parametrize("name", SIGNED)
def test_bad_values_raise_what_torch_raises(name):
    """Where torch's class raises, the exported class raises the same error with the same
    message; where torch accepts, so does the class (except what no program runs)."""
    entry = REGISTRY[name]
    ours_cls, theirs_cls = discover.optimizer(name), reference_class(entry)
    checked = 0
    for kwargs in bad_calls(entry):
        theirs = outcome(lambda: theirs_cls([torch.zeros(2, 2)], **kwargs))
        ours = outcome(lambda: ours_cls([torch.zeros(2, 2)], **kwargs))
        if theirs[0] == "ok" and ours[0] != "ok":
            assert any(s in ours[1] for s in ("not in the library", "not supported")), kwargs
        else:
            assert ours == theirs, kwargs
        checked += theirs[0] != "ok"
    assert checked >= 2  # at least the Tensor lr and the learning rate


def test_messages_users_know():
    Adam, SGD = discover.optimizer("adam"), discover.optimizer("sgd")
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1.0$"):
        Adam([torch.zeros(2)], lr=-1.0)
    with pytest.raises(ValueError, match=r"^Invalid beta parameter at index 0: 1.5$"):
        Adam([torch.zeros(2)], betas=(1.5, 0.999))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        SGD([torch.zeros(2)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.5"):  # a later group too
        Adam([{"params": [torch.zeros(2)], "lr": -0.5}])
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        discover.optimizer("muon")([torch.zeros(3)])


def test_generic_class_keeps_the_program_hyperparameters_and_maximizes():
    """signature=False (and any program without a reference signature) keeps the program's own
    names; maximize minimises -f there too."""
    Adam = discover.optimizer("adam", signature=False)
    assert "beta1" in inspect.signature(Adam.__init__).parameters
    Lion = discover.optimizer("lion")
    gen = torch.Generator().manual_seed(0)
    w0, g = torch.randn(5, generator=gen), torch.randn(5, generator=gen)
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    up, down = Lion([a], lr=0.1, maximize=True), Lion([b], lr=0.1)
    for _ in range(3):
        a.grad, b.grad = g.clone(), -g
        up.step()
        down.step()
    assert torch.equal(a, b) and not torch.equal(a.detach(), w0)


@pytest.mark.parametrize("name", SIGNED)
def test_written_module_runs_on_its_own(name, tmp_path):
    """The file `discover export NAME` writes needs only torch: the signature's functions are
    copied in whole (run in a namespace of the file's own, no discover import)."""
    path = discover.write_export(name, tmp_path / f"{name}.py")
    text = path.read_text()
    assert "import discover" not in text and "from discover" not in text
    namespace = {"__name__": f"exported_{name}"}
    exec(compile(text, str(path), "exec"), namespace)  # noqa: S102 - the file under test
    cls = namespace[discover.optimizer(name).__name__]
    params = [torch.nn.Parameter(torch.ones(3, 2))]
    opt = cls(params)
    for _ in range(2):
        params[0].grad = torch.ones(3, 2)
        opt.step()
    again = cls([torch.nn.Parameter(params[0].detach().clone())])
    again.load_state_dict(opt.state_dict())
    assert again.state_dict()["state"][0]["step"] == 2
