"""Fuzzing the program language: mutated library programs through ``parse`` and ``check_valid``.

A program file comes from a user, so the language must refuse every malformed one with a
one-line :class:`~primitives.errors.ProgramError` and never fail in any other way: no
``RecursionError`` from deep nesting, no ``OverflowError`` from a huge literal, no
``UnicodeEncodeError`` from a lone surrogate, no ``TypeError`` deep inside a step.

The fuzzer starts from the library programs' source and applies one to three mutations drawn
from a seeded ``random.Random`` (the same cases on every machine and in every run):

- character level: delete, insert, replace or duplicate a character or a token, swap,
  duplicate or delete lines, re-indent a line, truncate;
- structure level (through :mod:`ast`): an argument swapped for another name or a constant, an
  op renamed to another registry op or an unknown name, a call given one argument more or less,
  expressions nested (a little, or far past any sane depth), statements the language forbids
  (loops, ifs, lambdas, attributes, imports, starred arguments, keywords, ...), arguments renamed
  to reserved names or duplicated, huge and non-finite constants, unicode identifiers, very long
  sources.

Every case is counted in one bucket: refused by ``parse``, refused by ``check_valid`` or valid.
The default suite runs :data:`QUICK` cases; the ``slow`` test runs :data:`FULL` (issue 15).
"""

from __future__ import annotations

import ast
import random
import re
import time
from collections import Counter

import pytest

from discover.library import REGISTRY
from primitives import OPS, ProgramError, check_valid, parse

QUICK, FULL = 1500, 10_000

#: every library program's source, in a fixed order
SOURCES = [REGISTRY[name].source for name in sorted(REGISTRY)]
_OPS = sorted(OPS)
_NAMES = ["w", "g", "t", "loss", "h", "lr", "m", "v", "zz", "λ", "_", "None", "True", "print",
          "__import__", "self", "sign", "norm"]
_CHARS = list("()[]{},:;=+-*/%@.<>!&|^~\n\t \\'\"#0123456789eE_xyzgwλé") + ["\x00", "\udc80",
                                                                           "\u200b", "\r"]
_CONSTANTS = ["0", "-0.0", "1e308", "1e999", "-1e999", "1" + "0" * 400, "(1e999 - 1e999)",
              "True", "None", "'s'", "b'x'", "1j", "...", "0x10", "1_000", "[1.0]", "(1.0,)"]
_STATEMENTS = [
    "for i in range(3):\n    g = g", "while g:\n    pass", "if lr:\n    g = g",
    "f = lambda x: x", "x = g.sum()", "import os", "from os import path", "x = sign(*g)",
    "x = sign(g, key=1)", "x = g[0]", "x, y = g, g", "x = y = g", "x: float = 1.0",
    "del g", "global g", "assert g", "with g:\n    pass", "try:\n    pass\nexcept E:\n    pass",
    "def inner(a):\n    return a", "class C:\n    pass", "x = (y := g)", "x = g if lr else w",
    "x = g < w", "x = g and w", "x = f'{g}'", "x = [g for g in w]", "x = {g: w}", "x = yield g",
    "x = await g", "g @= w", "g //= 2", "g[0] += 1", "x = not g", "x = ~g", "raise ValueError",
    "return", "return g", "pass", "x = sign(lambda: g)", "x = sign(g).real", "x = g % 2",
    "x = (g for g in w)", "x = __import__('os')", "'a stray string'", "nonlocal q",
]


# ---- character level ---------------------------------------------------------------------------


def _tokens(src: str) -> list[str]:
    return re.findall(r"\w+|\s+|\S", src)


def _char_mutation(rng: random.Random, src: str) -> str:
    kind = rng.randrange(12)
    i = rng.randrange(len(src) + 1)
    if kind == 0:
        return src[:i] + src[i + 1:]
    if kind == 1:
        return src[:i] + rng.choice(_CHARS) + src[i:]
    if kind == 2:
        return src[:i] + rng.choice(_CHARS) + src[i + 1:]
    if kind == 3:
        return src[:i] + src[i:i + 1] * rng.randint(2, 4) + src[i + 1:]
    if kind == 4:
        return src[:i]  # truncate
    toks = _tokens(src)
    j = rng.randrange(len(toks)) if toks else 0
    if kind == 5:
        return "".join(toks[:j] + toks[j + 1:])
    if kind == 6:
        return "".join(toks[:j] + toks[j:j + 1] * 2 + toks[j + 1:])
    if kind == 7:
        new = rng.choice(_OPS + _NAMES + _CONSTANTS + [",", "(", ")", "=", "**", "return"])
        return "".join(toks[:j] + [new] + toks[j + 1:])
    lines = src.split("\n")
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    if kind == 8:
        lines[a], lines[b] = lines[b], lines[a]
    elif kind == 9:
        lines.insert(a, lines[b])
    elif kind == 10:
        del lines[a]
    else:
        lines[a] = rng.choice(["", " ", "  ", "        ", "\t"]) + lines[a].lstrip()
    return "\n".join(lines)


# ---- structure level ---------------------------------------------------------------------------


def _expr_of(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _exprs(fn: ast.FunctionDef) -> list[ast.expr]:
    return [n for st in fn.body for n in ast.walk(st) if isinstance(n, ast.expr)]


def _nested(rng: random.Random, inner: str, depth: int) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return "sign(" * depth + inner + ")" * depth
    if kind == 1:
        return "(" + " + ".join([inner] * depth) + ")"
    if kind == 2:
        return "-" * depth + inner
    return "(" * depth + inner + ")" * depth


class _Swap(ast.NodeTransformer):
    """Replace the ``k``-th expression node (in walk order) by ``new``."""

    def __init__(self, target: ast.AST, new: ast.AST):
        self.target, self.new = target, new

    def generic_visit(self, node):
        if node is self.target:
            return self.new
        return super().generic_visit(node)


def _structure_mutation(rng: random.Random, src: str) -> str:
    tree = ast.parse(src)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    args = fn.args.args
    exprs = _exprs(fn)
    calls = [e for e in exprs if isinstance(e, ast.Call) and isinstance(e.func, ast.Name)]
    kind = rng.randrange(19)
    if kind == 0 and exprs:  # a value swapped for another name or a constant
        new = rng.choice(_NAMES + [a.arg for a in args] + _CONSTANTS)
        tree = _Swap(rng.choice(exprs), _expr_of(new)).visit(tree)
    elif kind == 1 and calls:  # an op renamed: to one of the same arity, any op, or no op
        call = rng.choice(calls)
        same = [o for o in _OPS if OPS[o].arity == len(call.args)]
        call.func.id = rng.choice(same if same and rng.random() < 0.6 else
                                  _OPS + ["no_such_op", "print", "eval", "sqrt"])
    elif kind == 2 and calls:  # arity changed
        call = rng.choice(calls)
        if call.args and rng.random() < 0.5:
            call.args.pop(rng.randrange(len(call.args)))
        else:
            call.args.append(_expr_of(rng.choice(["g", "w", "1.0", "lr"])))
    elif kind == 3 and exprs:  # nested: a little, or far past any sane depth
        depth = rng.choice([1, 2, 5, 50, 99, 101, 300, 1000, 5000])
        old = rng.choice(exprs)
        tree = _Swap(old, _expr_of(_nested(rng, "g", depth) if depth > 200
                                   else _nested(rng, ast.unparse(old), depth))).visit(tree)
    elif kind in (4, 5):  # a statement the language may forbid
        stmts = ast.parse(rng.choice(_STATEMENTS)).body
        at = rng.randrange(len(fn.body) + 1)
        fn.body[at:at] = stmts
    elif kind == 6 and len(args) > 2:  # an argument renamed to a reserved name or duplicated
        rng.choice(args).arg = rng.choice(["t", "loss", "h", "w", "g", "sign", "λ", "_",
                                           args[rng.randrange(len(args))].arg])
    elif kind == 7:  # argument structure
        a = fn.args
        choice = rng.randrange(7)
        if choice == 0:
            a.vararg = ast.arg("rest")
        elif choice == 1:
            a.kwonlyargs, a.kw_defaults = [ast.arg("k")], [None]
        elif choice == 2 and a.defaults:
            a.defaults[rng.randrange(len(a.defaults))] = _expr_of(rng.choice(_CONSTANTS + ["lr"]))
        elif choice == 3:
            a.defaults = a.defaults[1:] if rng.random() < 0.5 else [_expr_of("1.0")] + a.defaults
        elif choice == 4:
            rng.choice(args).annotation = _expr_of(rng.choice(_CONSTANTS + _NAMES))
        elif choice == 5:
            fn.decorator_list.append(_expr_of("staticmethod"))
        else:
            args.insert(rng.randrange(len(args) + 1), ast.arg(rng.choice(["m2", "t", "h"])))
    elif kind == 8 and exprs:  # huge or non-finite constant
        big = rng.choice(["1e308 * 1e308", "1" + "0" * 400, "1e999", "-1e999", "1e-320", "2 ** 1024"])
        tree = _Swap(rng.choice(exprs), _expr_of(big)).visit(tree)
    elif kind == 9:  # the return value changed
        ret = fn.body[-1]
        if isinstance(ret, ast.Return):
            ret.value = rng.choice([None, _expr_of("g"), _expr_of("(g, g, g, g, g)"),
                                    _expr_of("(*g,)"), _expr_of("[g]")])
    elif kind == 10:  # unicode identifiers
        names = sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name)})
        if names:
            old, new = rng.choice(names), rng.choice(["λ", "β1", "ｇ", "ℌ", "Ω_2", "ß"])
            for n in ast.walk(fn):
                if isinstance(n, ast.Name) and n.id == old:
                    n.id = new
    elif kind == 11 and len(src) < 20_000:  # very long: the body repeated (up to ~1,000 lines)
        body, ret = fn.body[:-1], fn.body[-1:]
        fn.body = body * rng.choice([3, 10, 40]) + ret
    elif kind == 12:  # a second function, or module-level code
        tree.body.append(ast.parse(rng.choice(["def h(w, g):\n    return g", "x = 1",
                                               "import os"])).body[0])
    elif kind == 13:  # async def
        tree.body = [ast.AsyncFunctionDef(**{f: getattr(fn, f) for f in fn._fields})
                     if n is fn else n for n in tree.body]
    elif kind == 14 and calls:  # a keyword or starred argument
        call = rng.choice(calls)
        if rng.random() < 0.5:
            call.keywords.append(ast.keyword("k", _expr_of("g")))
        else:
            call.args.append(ast.Starred(_expr_of("g"), ast.Load()))
    elif kind in (15, 16, 17) and exprs:  # a shape-changing op around a value (check_valid's concern)
        target = rng.choice(exprs)
        old = ast.unparse(target)
        tree = _Swap(target, _expr_of(rng.choice([
            f"transpose({old})", f"matmul(g, {old})", f"matmul({old}, transpose(g))",
            f"transpose(row_mean({old}))", f"svd_left({old}, 2.0)", f"spd_power({old}, 0.5)"]))
        ).visit(tree)
    else:  # fn renamed, even to a unicode or very long name
        fn.name = rng.choice(["f", "λ", "ЖЖ", "_", "a" * 300])
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


# ---- the fuzzer ----------------------------------------------------------------------------------


def fuzzed_sources(seed: int, n: int):
    """``n`` mutated library programs: (mutation kinds, source), the same for the same seed."""
    rng = random.Random(seed)
    for _ in range(n):
        src, kinds = rng.choice(SOURCES), []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            if rng.random() < 0.5:
                try:
                    src = _structure_mutation(rng, src)
                    kinds.append("structure")
                    continue
                except (SyntaxError, ValueError, RecursionError, MemoryError, StopIteration):
                    pass  # not Python any more (or too deep for ast.unparse): mutate characters
            src = _char_mutation(rng, src)
            kinds.append("char")
        yield "+".join(kinds), src


def fuzz(seed: int, n: int) -> Counter:
    """Run ``n`` cases; count where each ends. Any exception but ProgramError propagates, with
    the source that raised it."""
    buckets = Counter()
    for kinds, src in fuzzed_sources(seed, n):
        stage = "parse"
        try:
            program = parse(src)
            stage = "check_valid"
            check_valid(program)
            buckets["valid"] += 1
        except ProgramError as exc:
            assert "\n" not in str(exc) and str(exc), (str(exc), src)
            buckets[f"refused by {stage}"] += 1
        except BaseException as exc:  # a crash: show the case that caused it
            raise AssertionError(f"{type(exc).__name__} at {stage} ({kinds}): {exc!r}\n"
                                 f"--- source ---\n{src[:3000]}") from exc
        buckets[kinds.split("+")[0]] += 1
    return buckets


def _check_buckets(buckets: Counter, n: int) -> None:
    outcomes = buckets["refused by parse"] + buckets["refused by check_valid"] + buckets["valid"]
    assert outcomes == n
    # the fuzzer reaches every side: parse errors, validity errors and valid programs
    assert buckets["refused by parse"] >= n // 5, buckets
    assert buckets["refused by check_valid"] >= n // 100, buckets
    assert buckets["valid"] >= n // 20, buckets
    assert buckets["char"] >= n // 4 and buckets["structure"] >= n // 4, buckets


def test_fuzzed_programs_quick():
    started = time.perf_counter()
    buckets = fuzz(seed=0, n=QUICK)
    _check_buckets(buckets, QUICK)
    print(f"{QUICK} fuzzed programs in {time.perf_counter() - started:.1f}s: {dict(buckets)}")


@pytest.mark.slow
def test_fuzzed_programs_full():
    """Issue 15: >= 10,000 fuzzed sources in one process, only ProgramError raised."""
    started = time.perf_counter()
    buckets = fuzz(seed=1, n=FULL)
    _check_buckets(buckets, FULL)
    print(f"{FULL} fuzzed programs in {time.perf_counter() - started:.1f}s: {dict(buckets)}")


def test_the_fuzzer_is_deterministic():
    assert list(fuzzed_sources(3, 50)) == list(fuzzed_sources(3, 50))


# ---- regressions: crashes the fuzzer found, minimised ----------------------------------------------


@pytest.mark.parametrize("source, message", [
    # Python's own parser gives up (RecursionError) on a very long chain or unary nesting
    ("def f(w, g, lr=0.1):\n    return lr * (g" + " + g" * 3000 + ")\n", "nested too deeply"),
    ("def f(w, g, lr=0.1):\n    return lr * " + "-" * 3000 + "g\n", "nested too deeply"),
    # deep enough for ast, too deep for the flattening parser's recursion
    ("def f(w, g, lr=0.1):\n    return lr * (g" + " + g" * 300 + ")\n", "nested more than 100"),
    # an integer literal too large for a float (OverflowError)
    ("def f(w, g, lr=0.1):\n    return lr * g * 1" + "0" * 400 + "\n", "constants must be finite"),
    ("def f(w, g, m: 1" + "0" * 400 + ", lr=0.1):\n    return lr * g, m\n", "must be finite"),
    ("def f(w, g, lr=1" + "0" * 400 + "):\n    return lr * g\n", "finite default"),
    # a non-finite default printed back as `lr=inf`, which does not parse
    ("def f(w, g, lr=1e999):\n    return lr * g\n", "finite default"),
    # a lone surrogate cannot be encoded for Python's parser (UnicodeEncodeError)
    ("def f(w, g, lr=0.1):\n    '\udc80'\n    return lr * g\n", "not valid source text"),
    # NUL: no line number ("line None" before)
    ("def f(w, g, lr=0.1):\n    return lr * g\x00\n", "syntax error"),
    # g with a default became both the gradient and a hyperparameter, and printed as `g, g=1.0`
    ("def f(w, g=1.0, lr=0.1):\n    return lr * g\n", "w and g take no default"),
    ("def f(w: 1.0, g, lr=0.1):\n    return lr * g\n", "w and g take no default"),
])
def test_fuzzer_findings_are_program_errors(source, message):
    with pytest.raises(ProgramError, match=message) as info:
        parse(source)
    assert "\n" not in str(info.value) and "line None" not in str(info.value)


def test_a_minus_chain_on_a_constant_is_still_a_constant():
    """-(-(...1.0)) nested 400 deep is read without recursion (it was recursive before)."""
    program = parse("def f(w, g, lr=0.1):\n    return lr * g * " + "-" * 400 + "1.0\n")
    assert program.body[0].args == ("lr", "g") and program.body[1].args[1] == 1.0
