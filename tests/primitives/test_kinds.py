"""Value kinds (primitives.kinds): every op given a wrong kind is a ProgramError naming its line,
every library program has kinds, and random programs over every op never fail any other way.

The wrong-kind cases are drawn from the registry's data (``Op.lists``, ``Op.numbers``, the group
reductions), so a new op with such positions is tested without a new test.
"""

import random
import re
from dataclasses import replace

import pytest
import torch

import primitives.program
from primitives import OPS, Executor, ProgramError, Stmt, check_valid, parse, to_source
from primitives.kinds import RESERVED_INPUTS, Kind, value_kinds
from primitives.testing import random_program

HEADER = "def f(w, g, m, t, loss, h, lr=0.1):\n    n = global_norm(g)\n"
#: a value of each kind that is defined in HEADER
OF_KIND = {Kind.SCALAR: "lr", Kind.GROUP: "n", Kind.TENSOR: "g"}
WHAT = {Kind.SCALAR: "a scalar", Kind.GROUP: "a group value", Kind.TENSOR: "a per-parameter tensor"}


def _wrong_kind_cases():
    """(op, position, kind given) for every position of every op that refuses a kind."""
    cases = []
    for name, op in OPS.items():
        numbers = dict(op.numbers)
        for pos in range(op.arity):
            if pos in op.lists:
                cases += [(name, pos, Kind.SCALAR), (name, pos, Kind.GROUP)]
            elif op.kind == "group_reduction":
                cases.append((name, pos, Kind.TENSOR))
            elif pos in numbers:
                cases += [(name, pos, Kind.TENSOR), (name, pos, Kind.GROUP)]
    return cases


def _args(op_name, position, value):
    """Arguments of ``op_name`` with ``value`` at ``position`` and well-kinded other ones."""
    op = OPS[op_name]
    numbers = dict(op.numbers)
    args = ["g" if p in op.lists else float(numbers.get(p, 1.0))
            if op.kind == "group_reduction" or p in numbers else "g" for p in range(op.arity)]
    args[position] = value
    return tuple(args)


def _call(op_name, position, value):
    return f"{op_name}({', '.join(str(a) for a in _args(op_name, position, value))})"


WRONG = _wrong_kind_cases()


def test_the_registry_has_wrong_kind_cases_for_every_group_reduction_and_number_position():
    ops = {op for op, _, _ in WRONG}
    assert {n for n, op in OPS.items() if op.kind == "group_reduction" or op.numbers} <= ops
    assert {"global_norm", "global_dot", "clip_by_global_norm", "newton_schulz", "spd_power",
            "svd_left", "svd_right", "ns_iterate"} <= ops


def test_lists_and_per_tensor_result_are_group_reduction_data():
    for name, op in OPS.items():
        if op.kind == "group_reduction":
            assert op.lists and all(0 <= p < op.arity for p in op.lists), name
        else:
            assert op.lists == () and not op.per_tensor_result, name
    assert OPS["global_dot"].lists == (0, 1)
    assert [n for n, op in OPS.items() if op.per_tensor_result] == ["clip_by_global_norm"]


@pytest.mark.parametrize("op_name, position, kind", WRONG,
                         ids=[f"{o}-arg{p + 1}-{k.value}" for o, p, k in WRONG])
def test_wrong_kind_is_a_parse_error_naming_the_line(op_name, position, kind):
    source = HEADER + f"    x = lr * 2.0\n    u = {_call(op_name, position, OF_KIND[kind])}\n" \
                      "    return u * lr, m\n"
    with pytest.raises(ProgramError) as info:
        parse(source)
    message = str(info.value)
    assert message.startswith(f"line 4: {op_name}(")
    assert f"argument {position + 1} must be" in message
    assert f"{OF_KIND[kind]!r} is {WHAT[kind]}" in message
    assert "\n" not in message


def test_wrong_kind_in_a_nested_expression_names_its_line():
    source = "def f(w, g, lr=0.1):\n    u = g * 2.0\n    v = lr * (u + global_norm(lr * 3.0))\n" \
             "    return v"
    with pytest.raises(ProgramError, match=r"^line 3: global_norm\(tmp1\): argument 1 must be a "
                                           r"per-parameter tensor"):
        parse(source)


@pytest.mark.parametrize("op_name, position, kind", WRONG[::3])
def test_wrong_kind_is_a_check_valid_error_for_built_programs(op_name, position, kind):
    """A program built by mutation has no source lines: check_valid names the statement."""
    good = parse(HEADER + "    return lr * g, m\n")
    u = Stmt("u", op_name, _args(op_name, position, OF_KIND[kind]))
    program = replace(good, body=good.body + (u,), returns=("u", "m"))
    with pytest.raises(ProgramError, match=rf"^f: statement 3 `u = {op_name}\(.*\)`: argument "
                                           rf"{position + 1} must be"):
        check_valid(program)


def test_kinds_of_a_program():
    p = parse("def f(w, g, m, t, loss, h, lr=0.1):\n"
              "    n = global_norm(g)\n"           # group value
              "    c = clip_by_global_norm(g, n)\n"  # the list scaled: per tensor
              "    r = norm(lr)\n"                 # a per-tensor reduction of a scalar: scalar
              "    s = row_mean(t)\n"              # a matrix op of a scalar: scalar
              "    q = n * loss + s\n"             # group value and scalars: group value
              "    o = newton_schulz(h, 1.0 + t)\n"  # a number computed from t
              "    return lr * (c + o) / q, m + r")
    kinds = value_kinds(p)
    assert kinds["n"] is Kind.GROUP and kinds["c"] is Kind.TENSOR
    assert kinds["r"] is Kind.SCALAR and kinds["s"] is Kind.SCALAR
    assert kinds["q"] is Kind.GROUP and kinds["o"] is Kind.TENSOR
    assert {n: kinds[n] for n in ("w", "g", "m", "t", "loss", "h", "lr")} == {
        "w": Kind.TENSOR, "g": Kind.TENSOR, "m": Kind.TENSOR, "t": Kind.SCALAR,
        "loss": Kind.SCALAR, "h": Kind.TENSOR, "lr": Kind.SCALAR}


def test_reserved_inputs_are_data_shared_with_program():
    assert RESERVED_INPUTS == {"t": Kind.SCALAR, "loss": Kind.SCALAR, "h": Kind.TENSOR}
    assert primitives.program.RESERVED_INPUTS is RESERVED_INPUTS
    assert "h" in primitives.RESERVED_INPUTS and "lr" not in primitives.RESERVED_INPUTS
    assert primitives.program.ProgramError is ProgramError


def test_an_unknown_role_is_a_program_error():
    p = parse("def f(w, g, lr=0.1):\n    return lr * g")
    bad = replace(p, params=p.params + (primitives.program.Param("x", "input"),))
    with pytest.raises(ProgramError, match="role 'input'"):
        value_kinds(bad)


def test_every_library_program_has_kinds():
    from discover.library import REGISTRY

    assert len(REGISTRY) > 100
    for name, entry in REGISTRY.items():
        kinds = value_kinds(entry.program)
        assert set(kinds) >= {s.target for s in entry.program.body}, name
        parse(to_source(entry.program))  # the parse-time check accepts it too


# ---- fuzz --------------------------------------------------------------------------------------

SHAPES = [(7,), (3, 5), (2, 3, 2, 2), (4, 4), (1,)]


def _run_reference(program, seed, steps=3):
    """``steps`` steps of Executor.update on a group of mixed shapes (float64)."""
    gen = torch.Generator().manual_seed(seed)
    ex = Executor(program)
    w = [torch.randn(s, dtype=torch.float64, generator=gen) for s in SHAPES]
    state = ex.init_state(w)
    for t in range(1, steps + 1):
        g = [torch.randn(s, dtype=torch.float64, generator=gen) for s in SHAPES]
        h = [torch.rand(s, dtype=torch.float64, generator=gen) for s in SHAPES]
        upd, new = ex.update(w, g, state, t=t, loss=0.7, h=h)
        w = [p - u for p, u in zip(w, upd)]
        state = {k: [torch.broadcast_to(torch.as_tensor(v, dtype=torch.float64), s.shape).clone()
                     for v, s in zip(new[k], state[k])] for k in state}


def test_fuzz_random_programs_over_every_op_fail_only_with_program_errors():
    """2,000 programs with any value in any argument (every op required in turn): parse and
    check_valid raise nothing but ProgramError, a kind error from parse names the line that
    holds the op, and every program check_valid accepts runs 3 steps of update."""
    rng, ops = random.Random(0), tuple(OPS)
    valid, kind_errors = 0, 0
    for i in range(2000):
        program = random_program(rng, rng.randint(1, 10), require=(ops[i % len(ops)],),
                                 kinds=False, name=f"fuzz{i}")
        source = to_source(program)
        try:
            parse(source)
        except ProgramError as exc:  # only a kind error can reach it: the source is well formed
            kind_errors += 1
            line, op_name = re.match(r"line (\d+): (\w+)\(", str(exc)).groups()
            assert f"{op_name}(" in source.splitlines()[int(line) - 1], (str(exc), source)
        try:
            check_valid(program)
        except ProgramError as exc:
            assert not re.search(r"TypeError|AttributeError|KeyError|IndexError", str(exc)), exc
            continue
        valid += 1
        _run_reference(program, seed=i)  # no exception: kernels turn bad values into NaN
    assert 1000 < valid < 1900 and kind_errors > 300  # the fuzz reaches both sides of the check


def test_svd_of_a_non_finite_matrix_gives_non_finite_values():
    p = parse("def f(w, g, lr=0.1):\n    return lr * svd_left(log(g - g), 2.0)")
    upd, _ = Executor(p).update([torch.ones(3, 4)], [torch.ones(3, 4)], {})
    assert not torch.isfinite(upd[0]).any()


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
@pytest.mark.parametrize("op", ["newton_schulz", "ns_iterate"])
def test_a_non_finite_step_count_gives_nan(loss, op):
    p = parse(f"def f(w, g, loss, lr=0.1):\n    return lr * {op}(g, loss)")
    check_valid(p)  # the probe's loss of 1 runs
    upd, _ = Executor(p).update([torch.ones(3, 4)], [torch.ones(3, 4)], {}, loss=loss)
    assert torch.isnan(upd[0]).all()
