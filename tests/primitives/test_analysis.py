"""Analysis: dataflow graph, dead code, structural hash, fingerprint, validity, adaptivity."""

import math

import pytest
import torch

from primitives import (OPS, Param, Program, ProgramError, Stmt, check_valid, dataflow_graph,
                        eliminate_dead_code, fingerprint, is_valid, parse, structural_hash)
from primitives.analysis import INVALID, RETURN, adaptivity_exponent, updates_on
from primitives.errors import InvalidValue

BASE = """def f(w, g, m, lr=0.1, beta=0.9):
    m = interp(g, m, beta)
    d = sign(m)
    u = lr * d + 0.01 * w
    return u, m
"""

ADAFACTOR_LIKE = """def f(w, g, r, c, t, lr=0.01, beta=0.9):
    r = interp(row_mean(g * g), r, beta)
    c = interp(col_mean(g * g), c, beta)
    v = r * c / mean(r)
    return lr * g / (psqrt(v) + 1e-30) / (1 - beta ** t), r, c
"""

MUON_LIKE = """def f(w, g, m, lr=0.02, beta=0.95, steps=5):
    m = interp(g, m, beta)
    return lr * newton_schulz(m, steps), m
"""

VALID = {
    "base": BASE,
    "adafactor-like": ADAFACTOR_LIKE,
    "muon-like": MUON_LIKE,
    "group": "def f(w, g, lr=0.1):\n    return lr * clip_by_global_norm(g, 1.0) / global_norm(w)",
    "inputs": "def f(w, g, h, loss, t, lr=0.1):\n    return lr * loss * g / (h + t)",
    "scalar update": "def f(w, g, lr=0.1):\n    return lr * get_pi()",
}


def h(source):
    return structural_hash(parse(source))


# --------------------------------------------------------------------------------------------
# structural hash


SAME_AS_BASE = {
    "renamed": """def other(w, g, mom, alpha=0.1, b=0.9):
    mom = interp(g, mom, b)
    s = sign(mom)
    step = alpha * s + 0.01 * w
    return step, mom
""",
    "dead statement": """def f(w, g, m, lr=0.1, beta=0.9):
    junk = exp(g) * m
    m = interp(g, m, beta)
    d = sign(m)
    more = d - junk
    u = lr * d + 0.01 * w
    return u, m
""",
    "reordered": """def f(w, g, m, lr=0.1, beta=0.9):
    decay = 0.01 * w
    m = interp(g, m, beta)
    step = lr * sign(m)
    return step + decay, m
""",
    "commutative swap": """def f(w, g, m, lr=0.1, beta=0.9):
    m = interp(g, m, beta)
    d = sign(m)
    u = w * 0.01 + d * lr
    return u, m
""",
}

DIFFERENT_FROM_BASE = {
    "non-commutative swap": BASE.replace("interp(g, m, beta)", "interp(m, g, beta)"),
    "subtraction order": BASE.replace("lr * d + 0.01 * w", "0.01 * w - lr * d"),
    "constant": BASE.replace("0.01", "0.02"),
    "op": BASE.replace("sign(m)", "tanh(m)"),
    "hyperparameter default": BASE.replace("lr=0.1", "lr=0.2"),
    "state start value": BASE.replace("m, lr=", "m: 0.5, lr="),
    "input instead of hyperparameter": BASE.replace("g, m, lr=0.1,", "g, m, t, lr=0.1,")
                                           .replace("lr * d", "t * d"),
}


@pytest.mark.parametrize("source", SAME_AS_BASE.values(), ids=SAME_AS_BASE.keys())
def test_structural_hash_invariances(source):
    assert parse(source) != parse(BASE)  # really a different program text
    assert h(source) == h(BASE)


@pytest.mark.parametrize("source", DIFFERENT_FROM_BASE.values(), ids=DIFFERENT_FROM_BASE.keys())
def test_structural_hash_differences(source):
    assert h(source) != h(BASE)


def test_structural_hash_sees_a_minus_b_and_return_order():
    a_minus_b = "def f(w, g, m):\n    return g - m, m + g"
    assert h(a_minus_b) != h(a_minus_b.replace("g - m", "m - g"))
    assert h(a_minus_b) == h(a_minus_b.replace("m + g", "g + m"))
    two = "def f(w, g, m, v):\n    return g, m + g, v * g"
    assert h(two) != h(two.replace("m + g, v * g", "v + g, m * g"))


def test_structural_hash_is_a_stable_string():
    assert h(BASE) == h(BASE) and isinstance(h(BASE), str) and len(h(BASE)) == 32
    assert h(BASE) != h(VALID["group"])


# --------------------------------------------------------------------------------------------
# dataflow graph and dead code


def test_graph_nodes_and_edges():
    p = parse("def f(w, g, m, lr=0.5):\n    m = m + g * g\n    return lr * m, m")
    graph = dataflow_graph(p)
    # tmp1 = g * g; m_1 = m + tmp1; tmp2 = lr * m_1
    assert set(graph.nodes) == {"w", "g", "m", "lr", "tmp1", "m_1", "tmp2", RETURN}
    assert graph.nodes["tmp1"]["op"] == "mul" and graph.nodes["tmp1"]["kind"] == "elementwise"
    assert graph.nodes["m"]["kind"] == "param" and graph.nodes["m"]["role"] == "state"
    assert graph.edges["g", "tmp1"]["positions"] == (0, 1)  # g * g uses g twice
    assert graph.edges["m", "m_1"]["pos"] == 0 and graph.edges["tmp1", "m_1"]["pos"] == 1
    assert graph.edges["tmp2", RETURN]["positions"] == (0,)  # the update
    assert graph.edges["m_1", RETURN]["positions"] == (1,)  # the state
    assert set(graph.edges) == {("g", "tmp1"), ("m", "m_1"), ("tmp1", "m_1"), ("lr", "tmp2"),
                                ("m_1", "tmp2"), ("tmp2", RETURN), ("m_1", RETURN)}
    assert graph.in_degree("w") == 0 and graph.out_degree("w") == 0


def test_dead_code_elimination_removes_exactly_the_dead_statements():
    p = parse(SAME_AS_BASE["dead statement"])
    dead = {"tmp1", "junk", "more"}  # exp(g), junk = tmp1 * m, more = d - junk
    assert dead <= {s.target for s in p.body}
    q = eliminate_dead_code(p)
    assert [s for s in p.body if s.target not in dead] == list(q.body)
    assert q.params == p.params and q.returns == p.returns
    assert eliminate_dead_code(q) == q
    assert eliminate_dead_code(parse(BASE)) == parse(BASE)
    assert fingerprint(q) == fingerprint(p)


# --------------------------------------------------------------------------------------------
# fingerprint


def test_fingerprint_sees_behaviour_not_structure():
    twice = parse("def f(w, g, m, lr=0.1):\n    m = m + 2.0 * g\n    return lr * m, m")
    added = parse("def f(w, g, m, lr=0.1):\n    m = m + (g + g)\n    return m * lr, m")
    assert structural_hash(twice) != structural_hash(added)
    assert fingerprint(twice) == fingerprint(added)
    expanded = parse(BASE.replace("interp(g, m, beta)", "(1 - beta) * g + beta * m"))
    assert fingerprint(expanded) == fingerprint(parse(BASE))


def test_fingerprint_ignores_rounding_noise():
    lerp = parse(BASE.replace("interp(g, m, beta)", "m + (1 - beta) * (g - m)"))
    assert fingerprint(lerp) == fingerprint(parse(BASE))
    # (w + 0.1) - w - 0.1 is ~1e-17, not 0: noise far below the tensor's other values
    exact = parse("def f(w, g):\n    return relu(g)")
    noisy = parse("def f(w, g):\n    n = w + 0.1 - w - 0.1\n    return relu(g) + n")
    assert fingerprint(noisy) == fingerprint(exact)
    assert fingerprint(parse("def f(w, g):\n    return relu(g) + 1e-6")) != fingerprint(exact)


@pytest.mark.parametrize("source", DIFFERENT_FROM_BASE.values(), ids=DIFFERENT_FROM_BASE.keys())
def test_fingerprint_differs_for_different_rules(source):
    assert fingerprint(parse(source)) != fingerprint(parse(BASE))


def test_fingerprint_is_deterministic_and_seeded():
    p = parse(ADAFACTOR_LIKE)
    assert fingerprint(p) == fingerprint(p) != INVALID
    assert fingerprint(p, seed=1) != fingerprint(p)
    assert fingerprint(p, steps=1) != fingerprint(p)


def test_fingerprint_handles_non_finite_and_failures():
    nan = parse("def f(w, g):\n    return sqrt(g)")  # NaN where g < 0
    inf = parse("def f(w, g):\n    return log(g - g)")  # -inf everywhere
    assert fingerprint(nan) == fingerprint(nan) not in (INVALID, fingerprint(inf))
    assert fingerprint(inf) == fingerprint(parse("def f(w, g):\n    return -1.0 / (g - g)"))
    # a tensor step count: parse rejects it (primitives.kinds), a program built directly fails
    tensor_steps = Program("f", (Param("w", "weight"), Param("g", "grad")),
                           (Stmt("u", "newton_schulz", ("g", "g")),), ("u",))
    assert fingerprint(tensor_steps) == INVALID
    undefined = Program("f", (Param("w", "weight"), Param("g", "grad")), (), ("nope",))
    assert fingerprint(undefined) == INVALID


def test_fingerprint_feeds_loss_and_h():
    p = parse(VALID["inputs"])
    assert fingerprint(p) != INVALID
    assert fingerprint(p) != fingerprint(parse(VALID["inputs"].replace("loss * g", "g")))


# --------------------------------------------------------------------------------------------
# validity


@pytest.mark.parametrize("source", VALID.values(), ids=VALID.keys())
def test_check_valid_accepts_valid_programs(source):
    check_valid(parse(source))
    assert is_valid(parse(source))


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_is_valid_on_meta_tensors(name):
    """Each op alone, on tensor arguments (numbers where the op needs one), passes the check."""
    op = OPS[name]
    numbers = dict(op.numbers)
    args = tuple(numbers.get(i, ("g", "w", "g")[i]) for i in range(op.arity))
    program = Program("f", (Param("w", "weight"), Param("g", "grad")),
                      (Stmt("u", name, args),), ("u",))
    # ops that change a non-square matrix's shape are checked on square parameters
    check_valid(program) if op.keeps_shape else check_valid(program, shapes=((7,), (4, 4)))


@pytest.fixture
def transpose_op():
    """An op that makes shapes that cannot broadcast back to the parameter (now in the registry)."""
    assert OPS["transpose"].fn(torch.zeros(5, 3)).shape == (3, 5)


def test_check_valid_rejects_incompatible_shapes(transpose_op):
    added = parse("def f(w, g):\n    u = newton_schulz(g, 5.0)\n    v = transpose(g)\n"
                  "    return u + v")
    with pytest.raises(ProgramError, match=r"statement 3 `tmp1 = u \+ v`.*shape \(5, 3\)"):
        check_valid(added)
    with pytest.raises(ProgramError, match="update has shape .* not broadcast"):
        check_valid(parse("def f(w, g):\n    return transpose(row_mean(g))"))
    # a state of its own shape is fine (Shampoo's preconditioners); one that cannot settle is not
    assert check_valid(parse("def f(w, g, m):\n    m = transpose(row_mean(g))\n    return g, m")) \
        is None
    with pytest.raises(ProgramError, match=r"shape \(5, 3\)"):
        check_valid(parse("def f(w, g, m):\n    m = transpose(m + g)\n    return g, m"))
    assert check_valid(added, shapes=[(7,), (3, 3)]) is None  # fine where the matrix is square


def test_check_valid_rejects_misused_ops():
    # parse rejects a value of the wrong kind (primitives.kinds); check_valid rejects the same
    # program built without source (as the search's mutations build them), naming the statement
    source = "def f(w, g):\n    return newton_schulz(g, row_mean(g))"
    with pytest.raises(ProgramError, match=r"^line 2: newton_schulz\(g, tmp1\): argument 2"):
        parse(source)
    wg = (Param("w", "weight"), Param("g", "grad"))
    row_steps = Program("f", wg, (Stmt("tmp1", "row_mean", ("g",)),
                                  Stmt("tmp2", "newton_schulz", ("g", "tmp1"))), ("tmp2",))
    with pytest.raises(ProgramError, match=r"`tmp2 = newton_schulz\(g, tmp1\)`: argument 2 must "
                                           r"be a number"):
        check_valid(row_steps)
    assert not is_valid(row_steps)
    hyper = (Param("lr", "hyper", default=0.1),)
    scalar_norm = Program("f", wg + hyper, (Stmt("n", "global_norm", ("lr",)),
                                            Stmt("u", "mul", ("g", "n"))), ("u",))
    assert not is_valid(scalar_norm)
    assert is_valid(parse("def f(w, g, lr=0.1):\n    return g * global_norm(g)"))


def test_check_valid_rejects_malformed_programs():
    params = (Param("w", "weight"), Param("g", "grad"), Param("m", "state"))
    cases = {
        "unknown op 'nope'": ((Stmt("u", "nope", ("g",)),), ("u", "m")),
        "takes 2 argument": ((Stmt("u", "add", ("g",)),), ("u", "m")),
        "'z' is not defined": ((Stmt("u", "add", ("g", "z")),), ("u", "m")),
        "assigned twice": ((Stmt("u", "abs", ("g",)), Stmt("u", "sign", ("u",))), ("u", "m")),
        "needs 2": ((Stmt("u", "abs", ("g",)),), ("u",)),
    }
    bad_start = (Param("w", "weight"), Param("g", "grad"), Param("m", "state", init="lr"))
    assert not is_valid(Program("f", bad_start, (), ("g", "m")))  # no hyperparameter lr
    for problem, (body, returns) in cases.items():
        program = Program("f", params, body, returns)
        with pytest.raises(ProgramError, match=problem):
            check_valid(program)
        with pytest.raises(ProgramError, match=problem):
            structural_hash(program)
        assert not is_valid(program)


# ---- adaptivity exponent ----------------------------------------------------------------------

MOMENTUM = """def f(w, g, m, lr=0.1, beta=0.9, wd=0.0):
    m = beta * m + g
    return lr * (m + wd * w), m
"""

ADAM = """def f(w, g, m, v, t, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * (m / (1 - beta1 ** t)) / (sqrt(v / (1 - beta2 ** t)) + eps), m, v
"""

ALPHA = {  # source -> alpha, to 1e-6
    "def f(w, g, lr=0.1):\n    return lr * g": 1.0,
    MOMENTUM: 1.0,
    "def f(w, g, lr=0.1):\n    return lr * sign(g)": 0.0,
    "def f(w, g, lr=0.1):\n    return lr * g / sqrt(abs(g))": 0.5,
    # a factor shared by the tensor goes into the per-step intercept
    "def f(w, g, lr=0.1):\n    return lr * g / norm(g)": 1.0,
    "def f(w, g, loss, lr=0.1):\n    return lr * loss * g": 1.0,
    # h is scaled with g: a curvature-normalised step does not follow the gradient's scale
    "def f(w, g, h, lr=0.1):\n    return lr * g / h": 0.0,
}


@pytest.mark.parametrize("source, alpha", ALPHA.items(), ids=range(len(ALPHA)))
def test_adaptivity_exponent_of_exact_rules(source, alpha):
    assert adaptivity_exponent(parse(source)) == pytest.approx(alpha, abs=1e-6)


def test_adaptivity_exponent_of_adam_is_zero_up_to_eps():
    adam = parse(ADAM)
    assert abs(adaptivity_exponent(adam)) < 0.05
    # an eps as large as the gradients makes it partly SGD
    assert 0.2 < adaptivity_exponent(adam, hyper={"eps": 1.0}) < 0.9


def test_adaptivity_exponent_keeps_the_weights_out():
    # momentum with weight decay: the decay term is the same in both runs, so alpha falls below 1
    # by how much of the update it is, and not at all without it
    decayed = adaptivity_exponent(parse(MOMENTUM), hyper={"wd": 1.0})
    assert 0.5 < decayed < 0.999
    assert adaptivity_exponent(parse(MOMENTUM), hyper={"wd": 0.0}) == pytest.approx(1.0, abs=1e-9)


def test_adaptivity_exponent_per_entry_and_factored_scales():
    factored_rule = parse(ADAFACTOR_LIKE)
    per_entry = adaptivity_exponent(factored_rule)
    by_row_and_column = adaptivity_exponent(factored_rule, factored=True)
    assert per_entry > 0.8 and abs(by_row_and_column) < 0.1
    with pytest.raises(InvalidValue, match="matrix shape"):
        adaptivity_exponent(factored_rule, shape=(96,), factored=True)


def test_adaptivity_exponent_is_nan_when_undefined_and_seeded():
    assert math.isnan(adaptivity_exponent(parse("def f(w, g, lr=0.1):\n    return 0.0 * g")))
    rule = parse(ADAFACTOR_LIKE)
    assert adaptivity_exponent(rule, seed=3) == adaptivity_exponent(rule, seed=3)
    assert adaptivity_exponent(rule, seed=3) != adaptivity_exponent(rule, seed=4)
    with pytest.raises(InvalidValue, match="steps >= 1"):
        adaptivity_exponent(rule, steps=0)


def test_updates_on_runs_given_inputs_on_given_weights():
    program = parse("def f(w, g, m, t, lr=1.0):\n    m = m + g\n    return lr * (m + w) / t, m")
    w = [torch.zeros(3, dtype=torch.float64)]
    grads = [[torch.full((3,), 1.0, dtype=torch.float64)]] * 3
    fixed = updates_on(program, w, grads)
    assert [float(u[0][0]) for u in fixed] == [1.0, 1.0, 1.0]  # m = t, divided by t
    path = [[torch.full((3,), float(s), dtype=torch.float64)] for s in range(3)]
    moved = updates_on(program, w, grads, path=path, hyper={"lr": 2.0})
    assert [float(u[0][0]) for u in moved] == [2.0, 3.0, 10 / 3]
