"""discover.export: exported optimizer modules run their program, standalone, on both paths.

The named programs below each exercise one export feature (fused Adam kernels, decoupled decay,
sign updates, momentum, a start value, a per-tensor norm, group reductions, reduced state, the
loss and Hessian inputs, state that swaps, names that clash with the generated code). They are
exported to files and run in a fresh interpreter, against torch.optim / pytorch_optimizer where a
package has the rule and against ``primitives.Executor`` otherwise; every op of the registry and
every library program is checked in-process against the executor.
"""

import json
import pickle
import subprocess
import sys

import pytest
import torch

from discover.export import ExportError, export_source, load_program, optimizer, write_export
from primitives.compile.templates import FUSED as KERNELS, TEMPLATES
from primitives.kernels import KERNELS as HELPERS
from primitives import OPS, Executor, ProgramError, parse

PROGRAMS = {
    # bias corrections folded into one addcdiv_ (torch.optim.Adam's kernels)
    "adam": """def adam(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    mhat = m / (1 - beta1 ** t)
    vhat = v / (1 - beta2 ** t)
    return lr * mhat / (sqrt(vhat) + eps), m, v
""",
    "adamw": """def adamw(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.01):
    m = interp(g, m, beta1)
    v = interp(square(g), v, beta2)
    step = m / (1 - beta1 ** t) / (sqrt(v / (1 - beta2 ** t)) + eps)
    return lr * (step + weight_decay * w), m, v
""",
    "lion": """def lion(w, g, m, lr=0.0001, beta1=0.9, beta2=0.99, weight_decay=0.0):
    u = sign(interp(g, m, beta1))
    m = interp(g, m, beta2)
    return lr * (u + weight_decay * w), m
""",
    "sgd_momentum": """def sgd_momentum(w, g, buf, lr=0.01, momentum=0.9):
    buf = momentum * buf + g
    return lr * buf, buf
""",
    # a state start value taken from a hyperparameter
    "adagrad": """def adagrad(w, g, acc: initial_accumulator_value, lr=0.01, initial_accumulator_value=0.1, eps=1e-10):
    acc = acc + g * g
    return lr * g / (sqrt(acc) + eps), acc
""",
    # LAMB-like trust ratio: per-tensor norms
    "trust": """def trust(w, g, m, v, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-06, weight_decay=0.01):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    u = m / (sqrt(v) + eps) + weight_decay * w
    return lr * norm(w) / (norm(u) + eps) * u, m, v
""",
    # group reductions: clipping by the global norm, and a global norm in the step size
    "clipped": """def clipped(w, g, m, lr=0.1, momentum=0.9, max_norm=1.0):
    gc = clip_by_global_norm(g, max_norm)
    m = momentum * m + gc
    return lr * m / (1.0 + global_norm(m)), m
""",
    # Adafactor-like reduced state: (..., R, 1) and (..., 1, C)
    "factored": """def factored(w, g, r, c, lr=0.01, beta=0.9, eps=1e-30):
    g2 = g * g + eps
    r = interp(row_mean(g2), r, beta)
    c = interp(col_mean(g2), c, beta)
    return lr * g * rsqrt(r * c / mean(r)), r, c
""",
    # the loss input (Polyak step size)
    "polyak": """def polyak(w, g, m, loss, lr=0.5, beta=0.9, eps=1e-08):
    m = interp(g, m, beta)
    return lr * loss / (global_norm(g) ** 2 + eps) * m, m
""",
    # the Hessian-diagonal input
    "diag_newton": """def diag_newton(w, g, hm, h, lr=0.1, beta=0.9, eps=0.001):
    hm = interp(abs(h), hm, beta)
    return lr * g / (hm + eps), hm
""",
    # state that swaps (a write-back cycle), starts at w / at a number, copies g, becomes a constant
    "swap": """def swap(w, g, a: w, b: 1.5, c, d, lr=0.1):
    u = lr * (a - b) + 0.01 * g + 0.001 * c * d
    return u, b, a, g, 2.0
""",
    # program names that are also names in the generated code
    "mangled": """def mangled(w, g, p, key, lr=0.1, meta=0.5):
    torch = g * meta
    x_ = interp(torch, p, 0.9)
    float = key + x_
    return lr * float, x_, float
""",
}

#: name -> (hyperparameters used, reference constructor in the subprocess or None: executor)
REFERENCES = {
    "adam": (dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8),
             "torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-8, foreach=fe)"),
    "adamw": (dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8, weight_decay=0.1),
              "torch.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1, "
              "foreach=fe)"),
    "lion": (dict(lr=0.003, beta1=0.9, beta2=0.99, weight_decay=0.1),
             "pytorch_optimizer.Lion(ps, lr=0.003, betas=(0.9, 0.99), weight_decay=0.1, "
             "foreach=fe)"),
    "sgd_momentum": (dict(lr=0.05, momentum=0.9),
                     "torch.optim.SGD(ps, lr=0.05, momentum=0.9, foreach=fe)"),
    "adagrad": (dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-10),
                "torch.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=1e-10, "
                "foreach=fe)"),
}
SHAPES = [(7,), (5, 3), (3, 6), (2, 3, 4), ()]
STEPS = 100


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: threads only add overhead (and contention with other test processes)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def problem(params, k):
    """Step k's gradients, loss and Hessian estimate at ``params`` (same in every process)."""
    gen = torch.Generator().manual_seed(1000 + k)
    noise = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    grads = [0.5 * p + n for p, n in zip(params, noise)]
    loss = 1.0 + sum(float((0.25 * p * p + n * p).sum()) for p, n in zip(params, noise))
    return grads, loss, [0.5 + 0.1 * n.abs() for n in noise]


def initial(shapes=SHAPES):
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]


def executor_trajectory(program, hyper, steps=STEPS):
    """The weights after each step under ``Executor.step_`` (the engine's fast path)."""
    ex = Executor(program)
    params = initial()
    state = ex.init_state(params, hyper)
    out = []
    for k in range(1, steps + 1):
        grads, loss, h = problem(params, k)
        ex.step_(params, grads, state, hyper, t=k, loss=loss, h=h)
        out.append([p.clone() for p in params])
    return out


def rel(a, b):
    """max |a - b| / max |b| over tensors (0 where both are 0)."""
    out = 0.0
    for x, y in zip(a, b):
        scale = y.abs().max().item()
        out = max(out, (x - y).abs().max().item() / scale if scale else (x - y).abs().max().item())
    return out


# the script run in a fresh interpreter: it imports the exported files, trains, and reports
RUNNER = r'''
import io, json, sys
import torch, pytorch_optimizer
torch.set_num_threads(1)
sys.path.insert(0, ".")
config = json.load(open("config.json"))
modules = {name: __import__(name) for name in config["programs"]}
exec(config["problem"])
SHAPES = [tuple(s) for s in config["shapes"]]


def initial():
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]


def rel(a, b):
    out = 0.0
    for x, y in zip(a, b):
        scale = y.abs().max().item()
        out = max(out, (x - y).abs().max().item() / scale if scale else (x - y).abs().max().item())
    return out


def train(opt, ps, steps, uses, start=1):
    traj = []
    for k in range(start, start + steps):
        grads, loss, h = problem([p.detach() for p in ps], k)
        for p, g in zip(ps, grads):
            p.grad = g
        kw = {}
        if "loss" in uses:
            kw["loss"] = loss
        if "h" in uses:
            kw["hessian"] = dict(zip(ps, h))
        opt.step(**kw)
        traj.append([p.detach().clone() for p in ps])
    return traj


results, trajectories = {}, {}
for name, spec in config["programs"].items():
    cls = getattr(modules[name], spec["class"])
    for fe in (False, True):
        ps = [p.requires_grad_() for p in initial()]
        ours = train(cls(ps, foreach=fe, **spec["hyper"]), ps, config["steps"], spec["uses"])
        if spec["reference"]:
            ref_ps = [p.requires_grad_() for p in initial()]
            ref = eval(spec["reference"], {"torch": torch, "pytorch_optimizer": pytorch_optimizer,
                                           "ps": ref_ps, "fe": fe})
            theirs = train(ref, ref_ps, config["steps"], ())
            results[f"{name}/{fe}"] = max(rel(a, b) for a, b in zip(ours, theirs))
        else:
            trajectories[f"{name}/{fe}"] = ours

# state_dict -> new optimizer -> load_state_dict, continued, equals the uninterrupted run
Adam, hyper = modules["adam"].Adam, config["programs"]["adam"]["hyper"]
ps = [p.requires_grad_() for p in initial()]
whole = train(Adam(ps, **hyper), ps, 40, ())
ps = [p.requires_grad_() for p in initial()]
opt = Adam(ps, **hyper)
train(opt, ps, 20, ())
buffer = io.BytesIO()
torch.save(opt.state_dict(), buffer)
ps2 = [p.detach().clone().requires_grad_() for p in ps]
opt2 = Adam(ps2, **hyper)
opt2.load_state_dict(torch.load(io.BytesIO(buffer.getvalue())))
resumed = train(opt2, ps2, 20, (), start=21)
results["state_dict"] = rel(resumed[-1], whole[-1])

# param groups with their own learning rates, as torch.optim.Adam does them
for fe in (False, True):
    a, b = [p.requires_grad_() for p in initial()], [p.requires_grad_() for p in initial()]
    ours = Adam([{"params": a[:2], "lr": 0.1}, {"params": a[2:]}], foreach=fe, **hyper)
    ref = torch.optim.Adam([{"params": b[:2], "lr": 0.1}, {"params": b[2:]}], lr=hyper["lr"],
                           betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"], foreach=fe)
    results[f"groups/{fe}"] = rel(train(ours, a, 30, ())[-1], train(ref, b, 30, ())[-1])

# invalid hyperparameters: a ValueError naming the parameter
errors = {}
for bad in [dict(lr=-1.0), dict(beta1=1.0), dict(eps=float("nan")), dict(beta2="x")]:
    try:
        Adam(initial(), **bad)
        errors[str(bad)] = "no error"
    except ValueError as exc:
        errors[str(bad)] = str(exc)
try:
    Adam([{"params": initial(), "lr": -0.5}])
    errors["group"] = "no error"
except ValueError as exc:
    errors["group"] = str(exc)
results["errors"] = errors
results["isolated"] = "discover" not in sys.modules and "primitives" not in sys.modules
torch.save(trajectories, "trajectories.pt")
print(json.dumps(results))
'''


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every named program written to a file and run in one fresh interpreter."""
    import inspect

    tmp = tmp_path_factory.mktemp("exported")
    programs = {}
    for name, source in PROGRAMS.items():
        program = parse(source)
        path = write_export(program, tmp / f"{name}.py")
        hyper, reference = REFERENCES.get(name, ({}, None))
        programs[name] = {"class": export_class_name(path), "hyper": hyper,
                          "reference": reference, "uses": list(program.input_names)}
    config = {"programs": programs, "steps": STEPS, "shapes": SHAPES,
              "problem": inspect.getsource(problem)}
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "runner.py").write_text(RUNNER)
    run = subprocess.run([sys.executable, "runner.py"], cwd=tmp, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return tmp, json.loads(run.stdout.strip().splitlines()[-1])


def export_class_name(path):
    return next(line.split()[1].split("(")[0] for line in path.read_text().splitlines()
                if line.startswith("class "))


def test_exported_files_are_standalone(exported):
    tmp, results = exported
    assert results["isolated"]
    for name in PROGRAMS:
        text = (tmp / f"{name}.py").read_text()
        compile(text, name, "exec")
        for bad in ("import discover", "import primitives", "from discover", "from primitives"):
            assert bad not in text
        assert "Generated by `discover export`" in text and "import math" in text


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("foreach", [False, True])
def test_exported_matches_package_reference(exported, name, foreach):
    assert exported[1][f"{name}/{foreach}"] < 1e-10


@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - set(REFERENCES)))
def test_exported_matches_executor(exported, name):
    tmp, _ = exported
    trajectories = torch.load(tmp / "trajectories.pt")
    expected = executor_trajectory(parse(PROGRAMS[name]), REFERENCES.get(name, ({},))[0])
    for foreach in (False, True):
        ours = trajectories[f"{name}/{foreach}"]
        assert max(rel(a, b) for a, b in zip(ours, expected)) < 1e-10, (name, foreach)


def test_state_dict_round_trip_and_param_groups(exported):
    results = exported[1]
    assert results["state_dict"] == 0.0
    assert results["groups/False"] < 1e-10 and results["groups/True"] < 1e-10


def test_invalid_hyperparameters_name_the_parameter(exported):
    errors = exported[1]["errors"]
    assert errors["{'lr': -1.0}"] == "Invalid lr: -1.0 (must be >= 0)"
    assert errors["{'beta1': 1.0}"] == "Invalid beta1: 1.0 (must be in [0, 1))"
    assert errors["{'eps': nan}"] == "Invalid eps: nan (must be a finite number)"
    assert errors["{'beta2': 'x'}"].startswith("Invalid beta2: 'x'")
    assert errors["group"] == "Invalid lr: -0.5 (must be >= 0)"


# ---- every op, every library program -------------------------------------------------------


def test_every_op_has_a_template():
    assert set(OPS) <= set(TEMPLATES), f"ops without an export template: {set(OPS) - set(TEMPLATES)}"
    for name, tpl in TEMPLATES.items():
        assert name in OPS, f"template for an unknown op {name!r}"
        assert tpl.tensor or tpl.group, name
        for helper in tpl.helpers:
            assert helper in HELPERS
    assert all(tensor for tensor, _ in KERNELS.values())


def _op_programs():
    """One program per op and mix of argument kinds (tensor, hyperparameter, constant)."""
    three = [("g", "m", "w"), ("g", "m", "a"), ("a", "g", "b"), ("g", "a", "b"), ("a", "b", "g")]
    mixes = {0: [()], 1: [("g",), ("a",), ("m",)],
             2: [("g", "m"), ("g", "a"), ("a", "g"), ("a", "b"), ("g", -0.7)], 3: three}
    for op in OPS.values():
        tpl = TEMPLATES[op.name]
        if op.kind == "group_reduction":
            lists = tpl.lists or "0"
            kinds = [tuple(("g", "m")[i] if str(i) in lists else "a" for i in range(op.arity))]
        else:
            kinds = {tuple("n" if str(i) in tpl.numbers else x for i, x in enumerate(c))
                     for c in mixes[op.arity]}
        for args in sorted(kinds, key=str):
            call = f"{op.name}({', '.join(str(a) for a in args)})"
            yield pytest.param(
                op.name, f"def f(w, g, m: 0.5, s, lr=0.01, a=0.7, b=-1.3, n=3.0):\n"
                f"    y = {call}\n    m = interp(g, m, 0.5)\n    return lr * mean(y) * g, m, y\n",
                id=call)


@pytest.mark.parametrize("op, source", list(_op_programs()))
def test_op_template_matches_the_op(op, source):
    """The state ``s`` holds the op's value, so it is compared element by element."""
    shapes = [(4,), (3, 3), (2, 3, 3), ()] if op in ("matmul", "spd_power") else \
        [(5,), (3, 4), (4, 2), (2, 3, 4), ()]
    program = parse(source)
    for foreach in (False, True):
        ex = Executor(program)
        gen = torch.Generator().manual_seed(0)
        ref = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
        ps = [p.clone().requires_grad_() for p in ref]
        state = ex.init_state(ref)
        opt = optimizer(program)(ps, foreach=foreach)
        for t in (1, 2):
            grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
            for p, g in zip(ps, grads):
                p.grad = g
            updates, state = ex.update(ref, grads, state, t=t)  # the reference semantics
            ref = [p - u for p, u in zip(ref, updates)]
            opt.step()
        close = dict(rtol=1e-9, atol=1e-12, equal_nan=True)
        for p, r, s in zip(ps, ref, state["s"]):
            torch.testing.assert_close(p.detach(), r, **close)
            ours = opt.state[p]["s"]
            torch.testing.assert_close(ours, torch.as_tensor(s, dtype=ours.dtype).expand_as(ours),
                                       **close)


def _registry():
    try:
        from discover.library import REGISTRY
    except ImportError:  # pragma: no cover - the library is written alongside
        return []
    return sorted(REGISTRY.items())


@pytest.mark.parametrize("name, entry", _registry(), ids=[n for n, _ in _registry()])
def test_library_program_exports_match_executor(name, entry):
    program = entry.program
    shapes = [s for s in SHAPES if entry.supports_ndim(len(s))] or [(4, 3)]
    for foreach in (False, True):
        ex = Executor(program)
        ref = initial(shapes)
        ps = [p.clone().requires_grad_() for p in ref]
        state = ex.init_state(ref)
        opt = optimizer(program)(ps, foreach=foreach)
        uses = program.input_names
        for k in range(1, 7):  # a few steps: all state in play, the test stays fast
            grads, loss, h = problem(ref, k)
            ex.step_(ref, grads, state, t=k, loss=loss, h=h)
            for p, g in zip(ps, grads):
                p.grad = g.clone()
            kw = {"loss": loss} if "loss" in uses else {}
            if "h" in uses:
                kw["hessian"] = dict(zip(ps, h))
            opt.step(**kw)
        assert rel([p.detach() for p in ps], ref) < 1e-10, foreach
        for key in program.state_names:
            assert [tuple(opt.state[p][key].shape) for p in ps] == \
                [tuple(s.shape) for s in state[key]]


# ---- export details --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["factored", "trust", "swap", "clipped"])
def test_state_shapes_match_the_executor(name):
    program = parse(PROGRAMS[name])
    shapes = [(5,), (4, 3), (2, 4, 3), (), (1, 6)]
    opt = optimizer(program)([torch.zeros(s, requires_grad=True) for s in shapes])
    for p in opt.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    opt.step()
    ex = Executor(program)
    for p in opt.param_groups[0]["params"]:
        expected = ex.state_shapes(p.shape)
        assert {k: tuple(v.shape) for k, v in opt.state[p].items() if k != "step"} == expected


def test_adam_export_uses_torch_adam_kernels():
    source = export_source(load_program("adam") if _registry() else parse(PROGRAMS["adam"]))
    body = source.split("def _single_tensor_adam")[1].split("\ndef ")[0]
    code = [ln.strip() for ln in body.splitlines()[2:] if ln.strip() and
            not ln.strip().startswith("#")]
    kernels = [ln for ln in code if "(" in ln and not ln.startswith(("if ", "d = g if"))]
    assert any(".lerp_(" in k for k in kernels) and any(".addcmul_(" in k for k in kernels)
    assert code[-1].startswith("w.addcdiv_(")
    assert len(kernels) <= 8, kernels  # lerp_, mul_, addcmul_, sqrt, div_, add_, addcdiv_


def test_parameters_that_skip_steps_keep_their_own_step_count():
    """A parameter without a gradient does not step, and its t lags behind (as in torch)."""
    program = parse(PROGRAMS["adam"])
    hyper = REFERENCES["adam"][0]
    for foreach in (False, True):
        ps = [p.requires_grad_() for p in initial()]
        opt = optimizer(program)(ps, foreach=foreach, **hyper)
        ref = torch.optim.Adam([p.detach().clone().requires_grad_() for p in initial()],
                               lr=0.01, betas=(0.8, 0.99), eps=1e-8)
        rps = ref.param_groups[0]["params"]
        for k in range(1, 13):
            grads, _, _ = problem([p.detach() for p in ps], k)
            for i, (p, q, g) in enumerate(zip(ps, rps, grads)):
                skip = i == 1 and k % 3 == 0
                p.grad = None if skip else g.clone()
                q.grad = None if skip else g.clone()
            opt.step()
            ref.step()
        assert opt.state[ps[1]]["step"] == 8 and opt.state[ps[0]]["step"] == 12
        assert rel([p.detach() for p in ps], [q.detach() for q in rps]) < 1e-12


def test_foreach_default_is_the_per_tensor_path_on_cpu(monkeypatch):
    cls = optimizer(parse(PROGRAMS["lion"]))
    module = sys.modules[cls.__module__]
    calls = []
    monkeypatch.setattr(module, "_single_tensor_lion",
                        lambda *a, **k: calls.append("single"))
    monkeypatch.setattr(module, "_multi_tensor_lion", lambda *a, **k: calls.append("multi"))
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    cls([p]).step()
    cls([p], foreach=True).step()
    assert calls == ["single", "multi"]
    assert not module._default_foreach([p])


def test_missing_inputs_say_how_to_pass_them():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    with pytest.raises(ValueError, match=r"step\(closure\)"):
        optimizer(parse(PROGRAMS["polyak"]))([p]).step()
    with pytest.raises(ValueError, match=r"step\(hessian=\{param: tensor\}\) or set param.hess"):
        optimizer(parse(PROGRAMS["diag_newton"]))([p]).step()
    p.hess = torch.ones(3)  # the attribute works too
    optimizer(parse(PROGRAMS["diag_newton"]))([p]).step()
    loss = optimizer(parse(PROGRAMS["polyak"]))([p]).step(lambda: torch.tensor(2.0))
    assert float(loss) == 2.0


def test_optimizer_loads_names_files_and_sources(tmp_path):
    source = PROGRAMS["sgd_momentum"]
    (tmp_path / "rule.py").write_text(source)
    a = optimizer(source)
    b = optimizer(str(tmp_path / "rule.py"))
    c = optimizer(parse(source), class_name="Heavy")
    assert a is b and a.__name__ == "SgdMomentum" and c.__name__ == "Heavy"
    assert pickle.loads(pickle.dumps(a)) is a  # the module is importable by name
    if _registry():
        assert load_program("lion").name == "lion"
    adamw = parse('def adamw(w, g, lr=0.1):\n    """AdamW: a docstring."""\n    return lr * g\n')
    assert "class AdamW(torch.optim.Optimizer)" in export_source(adamw)  # the doc's spelling


@pytest.mark.parametrize("bad, error, match", [
    ("no_such_optimizer", ExportError, "unknown optimizer 'no_such_optimizer'"),
    ("missing/rule.py", ExportError, "cannot read missing/rule.py"),
    ("def f(w, g):\n    return foo(g)\n", ProgramError, "unknown op 'foo'"),
    (42, ExportError, "got int"),
])
def test_load_errors_are_one_line(bad, error, match):
    with pytest.raises(error, match=match) as info:
        load_program(bad)
    assert "\n" not in str(info.value)


def test_bad_class_and_clashing_names_are_errors():
    with pytest.raises(ExportError, match="not a Python identifier"):
        export_source(parse(PROGRAMS["lion"]), class_name="my optimizer")
    with pytest.raises(ExportError, match="'foreach' clashes"):
        export_source(parse("def f(w, g, lr=0.1, foreach=1.0):\n    return lr * g\n"))


def test_every_library_class_accepts_its_verified_settings():
    """The exported class with the program's own hyperparameters takes every setting its entry
    is verified at (its bounds come from the entry where the name rules do not fit: FTRL's beta,
    TVLARS's alpha); classes with a reference's signature are tested in test_signatures.py."""
    from discover.library import REGISTRY

    for name, entry in REGISTRY.items():
        cls = optimizer(name, signature=False)
        for setting in entry.settings:
            hyper = {**entry.program.hyperparameters, **setting}
            cls([torch.zeros(3, dtype=torch.float64)], **hyper)  # raises if a bound rejects it


def test_bounds_override_the_name_rules():
    program = parse("def f(w, g, lr=0.1, beta=0.5):\n    return lr * beta * g")
    with pytest.raises(ValueError, match=r"Invalid beta: 2.0 \(must be in \[0, 1\)\)"):
        optimizer(program)([torch.zeros(2)], beta=2.0)
    loose = optimizer(program, bounds={"beta": (None, 3.0)})
    loose([torch.zeros(2)], beta=2.0)
    with pytest.raises(ValueError, match=r"Invalid beta: 4.0 \(must be < 3\)"):
        loose([torch.zeros(2)], beta=4.0)
    with pytest.raises(ExportError, match="bounds for unknown hyperparameter"):
        export_source(program, bounds={"gamma": (0.0, 1.0)})
