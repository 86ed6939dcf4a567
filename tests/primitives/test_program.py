"""Parsing and printing programs: round trips and one-line errors that name the line."""

import ast

import pytest

from primitives import OPS, Param, ProgramError, Stmt, parse, to_source

ROUND_TRIP = {
    "nested": """def lion(w, g, m, lr=1e-4, beta1=0.9, beta2=0.99, wd=0.0):
    \"\"\"Lion: EvoLved Sign Momentum (Chen et al., 2023).\"\"\"
    u = sign(interp(g, m, beta1))
    m = interp(g, m, beta2)
    return lr * (u + wd * w), m
""",
    "reassigned": """def f(w, g, m, v, t, lr=0.001, b1=0.9, b2=0.999):
    m = b1 * m + (1 - b1) * g
    m = m / (1 - b1 ** t)
    v = interp(g * g, v, b2)
    v = v + 1e-16
    return lr * m / (sqrt(v) + 1e-8), m, v
""",
    "negative constants and pow": """def f(w, g, lr=0.1):
    a = -2.5 * g ** 2.0
    b = power(g, -0.5) - (-1.0)
    return lr * (a + b) ** -1.0 + -g
""",
    "state start values": """def f(w, g, acc: 0.1, d: lr, x: w, h, loss, lr=0.01, n=3):
    \"\"\"Several lines
    of docstring.\"\"\"
    acc = acc + g * g
    return lr * g / psqrt(acc) * d + h * loss * n, acc, d * 0.5, interp(x, w, 0.9)
""",
    "scalars only": """def f(w, g, t, lr=1):
    s = exp(-t) + get_pi()
    return s * lr
""",
}


@pytest.mark.parametrize("source", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_round_trip(source):
    p = parse(source)
    printed = to_source(p)
    ast.parse(printed)  # valid Python
    assert parse(printed) == p
    assert to_source(parse(printed)) == printed
    assert all(len(s.args) == OPS[s.op].arity for s in p.body)  # SSA: one op per statement


def test_parse_flattens_to_ssa():
    p = parse(ROUND_TRIP["reassigned"])
    targets = [s.target for s in p.body]
    assert len(targets) == len(set(targets))  # every name is assigned once
    assert {"m_1", "m_2", "v_1", "v_2"} <= set(targets)  # a state argument is never reassigned
    assert p.returns[1:] == ("m_2", "v_2")
    assert p.state_names == ("m", "v") and p.input_names == ("t",)
    assert p.hyperparameters == {"lr": 0.001, "b1": 0.9, "b2": 0.999}


def test_parse_constants_and_state_starts():
    p = parse(ROUND_TRIP["negative constants and pow"])
    assert Stmt("tmp1", "pow", ("g", 2.0)) in p.body
    assert any(s.op == "mul" and s.args[0] == -2.5 for s in p.body)
    assert any(s.op == "pow" and s.args[1] == -1.0 for s in p.body)
    q = parse(ROUND_TRIP["state start values"])
    assert q.state_inits == {"acc": 0.1, "d": "lr", "x": "w"}
    assert Param("h", "input") in q.params and Param("loss", "input") in q.params
    assert q.doc.startswith("Several lines")


ERRORS = {
    "unknown op": ("def f(w, g):\n    u = frobnicate(g)\n    return u", 2,
                   "unknown op 'frobnicate'"),
    "arity": ("def f(w, g):\n    u = interp(g, w)\n    return u", 2, "takes 3 argument(s), got 2"),
    "undefined": ("def f(w, g):\n    u = g\n    return u * z", 3, "undefined variable 'z'"),
    "for loop": ("def f(w, g):\n    for i in g:\n        g = g * 2\n    return g", 2, "loops"),
    "while loop": ("def f(w, g):\n    u = g\n    while u:\n        u = u\n    return u", 3,
                   "loops"),
    "if": ("def f(w, g):\n    if g:\n        g = -g\n    return g", 2, "conditionals"),
    "ternary": ("def f(w, g):\n    u = g if w else w\n    return u", 2, "conditionals"),
    "foreign call": ("def f(w, g):\n    u = g\n    v = torch.sqrt(g)\n    return v", 3,
                     "outside the op registry"),
    "return count": ("def f(w, g, m, v):\n    m = m + g\n    return g, m", 3,
                     "must be (update, m, v)"),
    "missing return": ("def f(w, g, m):\n    m = m + g\n    u = m * 2", 3, "must end with return"),
    "hyper default": ("def f(w, g,\n      lr='fast'):\n    return g", 2, "needs a numeric default"),
    "first args": ("def f(g, w, lr=0.1):\n    return g", 1, "first two arguments must be w"),
    "group reduction of a scalar": ("def f(w, g, lr=0.1):\n    u = g\n    return u * global_norm(lr)",
                                    3, "global_norm(lr): argument 1 must be a per-parameter tensor"),
    "tensor step count": ("def f(w, g, m):\n    m = m + g\n    u = newton_schulz(g,\n"
                          "        m)\n    return u, m", 3, "argument 2 must be a number"),
}


@pytest.mark.parametrize("source, line, problem", ERRORS.values(), ids=ERRORS.keys())
def test_parse_errors_name_line_and_problem(source, line, problem):
    with pytest.raises(ProgramError) as info:
        parse(source)
    message = str(info.value)
    assert f"line {line}" in message
    assert problem in message
    assert "\n" not in message
