"""Check a library program against its reference implementation(s).

For every hyperparameter setting of an entry, the program -- twice: through ``Executor.step_``,
the engine's compiled in-place step, and through the exported ``torch.optim.Optimizer`` class a
user receives (:func:`discover.export.optimizer`) -- and the reference optimizer train the same
float64 weights of
several shapes -- a vector, a tall and a wide matrix and a conv kernel, all in one parameter
group -- on the same noisy quadratic, ``g = A w + 0.1 * noise`` with a fixed random positive
semi-definite ``A`` per shape and the same noise sequence. Each run computes its gradients from
its own weights, so a difference feeds back into the trajectory instead of washing out. After
every step the weights of both runs are compared with the reference's; the result is the largest
absolute difference and the largest relative one, ``max |a - b| / max |b|`` per tensor, over all
steps, shapes and both runs (a label starting ``export`` marks the exported class's).

Programs that read the ``loss`` input get the minibatch loss whose gradient is the one fed,
``sum over shapes of 0.5 w^T A w + 0.1 * noise . w`` (plus a constant offset), and their
reference gets the same loss through ``step(closure)``; the closure also recomputes the
gradients at the weights it is called at, as a real closure would.

Programs that read the ``h`` input (a Hessian-diagonal estimate: Sophia-H, AdaHessian) get
Hutchinson's estimate ``z * (H z)`` of that loss's Hessian at their own weights
(:func:`primitives.hessian.hutchinson_diagonal`, one Rademacher ``z`` per step from a seeded
generator), and their reference gets the estimate at its weights, from the same ``z``, through
``step(hessian=...)`` (the ``pytorch_optimizer`` API for external estimates).

>>> from discover.library import get
>>> result = verify(get("adam"), steps=20)
>>> result.status, result.max_rel < 1e-10
('passed', True)

While a check runs, torch's default dtype is float64 (torch.optim keeps scalar state such as
ASGD's ``eta`` or NAdam's ``mu_product`` in the default dtype, which would otherwise round it to
float32) and torch uses one thread; both are restored afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import torch

from primitives import Executor
from primitives.hessian import hutchinson_diagonal

from .export import optimizer as exported_class
from .library import REGISTRY, Entry, Reference, get

__all__ = ["SHAPES", "SettingResult", "VerifyResult", "verify", "verify_all", "format_table"]

#: problem shapes: vector, tall matrix, wide matrix, conv kernel (out, in, kh, kw)
SHAPES = ((37,), (13, 7), (5, 11), (6, 3, 3, 3))
#: scale of the gradient noise added to A w
NOISE = 0.1
#: constant added to the loss given to programs that read ``loss`` (it moves no gradient)
LOSS_OFFSET = 1.0
_TINY = torch.finfo(torch.float64).tiny
_ORDER = ("failed", "error", "skipped", "passed")  # worst first


@dataclass(frozen=True)
class SettingResult:
    """One reference run on one hyperparameter setting."""

    reference: str
    setting: Mapping[str, float]
    status: str  # passed / failed / skipped / error
    max_abs: float
    max_rel: float
    tolerance: float
    #: where the largest relative difference occurred, or why the run failed / was skipped
    note: str = ""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify` for one entry.

    ``status`` is the worst over every reference and setting (failed > error > skipped >
    passed); ``max_abs``, ``max_rel`` and ``tolerance`` are those of the primary reference
    (NaN when it did not run). ``details`` holds every run, extra references included.
    """

    name: str
    status: str
    reference: str
    steps: int
    max_abs: float
    max_rel: float
    tolerance: float
    note: str
    details: tuple[SettingResult, ...]


# ---- the problem ------------------------------------------------------------------------------


class _Problem:
    """Initial weights, a quadratic per shape and a noise stream, all from one seed."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], seed: int):
        gen = torch.Generator().manual_seed(seed)
        f64 = dict(dtype=torch.float64, generator=gen)
        self.shapes = list(shapes)
        self.w0 = [torch.randn(s, **f64) for s in shapes]
        self.hessians = []
        for s in shapes:
            n = math.prod(s)
            m = torch.randn(n, n, **f64)
            self.hessians.append(m @ m.T / n)  # eigenvalues in about [0, 4]
        self.noise_gen = torch.Generator().manual_seed(seed + 1)
        self.seed = seed

    def noise(self) -> list[torch.Tensor]:
        return [torch.randn(s, dtype=torch.float64, generator=self.noise_gen) for s in self.shapes]

    def grads(self, weights, noise) -> list[torch.Tensor]:
        return [(a @ w.detach().reshape(-1)).reshape(w.shape) + NOISE * z
                for a, w, z in zip(self.hessians, weights, noise)]

    def loss(self, weights, noise) -> float:
        """The minibatch loss whose gradient :meth:`grads` is: the sum over shapes of
        ``0.5 w^T A w + NOISE * z . w``, plus ``LOSS_OFFSET`` (a constant, so that Polyak-type
        steps, which assume a minimum near 0, start from a positive loss)."""
        total = LOSS_OFFSET
        for a, w, z in zip(self.hessians, weights, noise):
            x = w.detach().reshape(-1)
            total += float(0.5 * x @ (a @ x) + NOISE * (z.reshape(-1) @ x))
        return total

    def closure(self, weights, noise):
        """``step(closure)`` for a reference: recomputes the gradients at the weights it is
        called at and returns the loss there (as a 0-d tensor, like ``loss.backward()``'s)."""

        def closure():
            for p, g in zip(weights, self.grads(weights, noise)):
                p.grad = g
            return torch.tensor(self.loss(weights, noise), dtype=torch.float64)

        return closure

    def hessian_diagonal(self, weights, noise, step: int) -> list[torch.Tensor]:
        """Hutchinson's estimate of the minibatch loss's Hessian diagonal at ``weights``; the
        Rademacher vectors depend only on the problem's seed and ``step``, so both runs of a
        check see the same ones."""
        xs = [w.detach().clone().requires_grad_(True) for w in weights]

        def loss_fn():
            return sum(0.5 * x.reshape(-1) @ (a @ x.reshape(-1)) + NOISE * (z * x).sum()
                       for a, x, z in zip(self.hessians, xs, noise))

        gen = torch.Generator().manual_seed(1_000_003 * (self.seed + 2) + step)
        return hutchinson_diagonal(loss_fn, xs, gen)


@contextlib.contextmanager
def _float64_one_thread():
    """float64 as torch's default dtype, and one intra-op thread: the problems are tiny, and
    threads only add synchronisation (on a busy 2-core machine a 7x13 matmul goes from 5 us
    to 1 ms)."""
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)


def _missing(ref: Reference) -> str:
    """The install hint when the reference's package is not importable, else ''."""
    if ref.requires and importlib.util.find_spec(ref.import_name) is None:
        return f"reference needs a package: pip install {ref.requires}"
    return ""


# ---- one run ------------------------------------------------------------------------------------


def _run(entry: Entry, ref: Reference, setting: Mapping[str, float], steps: int,
         seed: int) -> SettingResult:
    """Train with the program and the reference side by side; compare after every step."""
    executor = Executor(entry.program)
    hyper = executor.hyperparameters(setting)
    problem = _Problem([s for s in SHAPES if entry.supports_ndim(len(s))], seed)
    ours = [w.clone() for w in problem.w0]
    exported = [w.clone() for w in problem.w0]
    theirs = [w.clone().requires_grad_(True) for w in problem.w0]
    state = executor.init_state(ours, hyper)
    # the class with the program's own hyperparameters (the one with the reference's keyword
    # arguments, for entries that have a signature, is checked by tests/discover/test_signatures)
    export_opt = exported_class(entry.program, bounds=dict(entry.bounds),
                                signature=False)(exported, **hyper)
    optimizer = ref.make(theirs, dict(hyper))
    max_abs = max_rel = 0.0
    worst = ""
    uses_loss = "loss" in entry.program.input_names
    uses_h = "h" in entry.program.input_names
    for t in range(1, steps + 1):
        noise = problem.noise()
        loss = problem.loss(ours, noise) if uses_loss else None
        h = problem.hessian_diagonal(ours, noise, t) if uses_h else None
        executor.step_(ours, problem.grads(ours, noise), state, hyper, t=t, loss=loss, h=h)
        _step_exported(export_opt, problem, exported, noise, t, uses_loss, uses_h)
        for p, g in zip(theirs, problem.grads(theirs, noise)):
            p.grad = g
        # the reference sees the same Hessian estimate (at its weights) through step(hessian=)
        extra = {"hessian": problem.hessian_diagonal(theirs, noise, t)} if uses_h else {}
        if uses_loss:  # the reference sees the same minibatch loss through step(closure)
            optimizer.step(problem.closure(theirs, noise), **extra)
        else:
            optimizer.step(**extra)
        pairs = [(a, b.detach(), f"{run}w{tuple(b.shape)}") for run, mine in
                 (("", ours), ("export ", exported)) for a, b in zip(mine, theirs)]
        for name, key in entry.compare_state:
            pairs += [(s, optimizer.state[p][key], f"{name}{tuple(p.shape)}")
                      for s, p in zip(state[name], theirs)]
            pairs += [(export_opt.state[q][name], optimizer.state[p][key],
                       f"export {name}{tuple(p.shape)}") for q, p in zip(exported, theirs)]
        for a, b, label in pairs:
            diff = (a - b).abs().max().item()
            scale = b.abs().max().item()
            rel = diff / max(scale, _TINY)
            if not math.isfinite(rel + scale):  # NaN/inf in either run
                return SettingResult(ref.label, dict(setting), "failed", math.nan, math.nan,
                                     ref.tolerance, f"non-finite values at step {t} in {label}")
            max_abs = max(max_abs, diff)
            if rel > max_rel:
                max_rel, worst = rel, f"worst at step {t} in {label}"
    status = "passed" if max_rel <= ref.tolerance else "failed"
    return SettingResult(ref.label, dict(setting), status, max_abs, max_rel, ref.tolerance, worst)


def _step_exported(opt, problem, weights, noise, t, uses_loss, uses_h) -> None:
    """One step of the exported optimizer class on its own weights, fed as a user would."""
    for w, g in zip(weights, problem.grads(weights, noise)):
        w.grad = g
    kwargs = {}
    if uses_loss:
        kwargs["loss"] = problem.loss(weights, noise)
    if uses_h:
        kwargs["hessian"] = dict(zip(weights, problem.hessian_diagonal(weights, noise, t)))
    opt.step(**kwargs)


def _check(entry: Entry, ref: Reference, setting: Mapping[str, float], steps: int,
           seed: int) -> SettingResult:
    missing = _missing(ref)
    if missing:
        return SettingResult(ref.label, dict(setting), "skipped", math.nan, math.nan,
                             ref.tolerance, missing)
    try:
        with _float64_one_thread():
            return _run(entry, ref, setting, steps, seed)
    except ImportError as exc:
        return SettingResult(ref.label, dict(setting), "skipped", math.nan, math.nan,
                             ref.tolerance, f"reference not importable ({exc}); "
                                            f"pip install {ref.requires or 'its package'}")
    except Exception as exc:  # noqa: BLE001 - a crash is a verification outcome, not a bug here
        message = " ".join(str(exc).split()) or type(exc).__name__
        return SettingResult(ref.label, dict(setting), "error", math.nan, math.nan,
                             ref.tolerance, f"{type(exc).__name__}: {message}")


# ---- public API -------------------------------------------------------------------------------


def verify(entry: Entry, steps: int = 200, seed: int = 0,
           settings: Iterable[Mapping[str, float]] | None = None) -> VerifyResult:
    """Run ``entry``'s program against each of its references on every setting.

    ``settings`` (hyperparameter overrides) defaults to ``entry.settings``. A reference whose
    package is missing gives status "skipped" with the install hint, never "passed".
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    settings = tuple(entry.settings if settings is None else settings)
    if not settings:
        raise ValueError("settings is empty: give at least one (e.g. [{}] for the defaults)")
    details = tuple(_check(entry, ref, setting, steps, seed)
                    for ref in entry.references for setting in settings)
    status = min((d.status for d in details), key=_ORDER.index, default="passed")
    primary = [d for d in details
               if d.reference == entry.primary.label and d.status != "skipped"]
    notes = [f"{d.reference} {dict(d.setting) or 'defaults'}: {d.note}" for d in details
             if d.status == status and status != "passed"]
    return VerifyResult(
        name=entry.name,
        status=status,
        reference=entry.primary.label,
        steps=steps,
        max_abs=max((d.max_abs for d in primary), default=math.nan),
        max_rel=max((d.max_rel for d in primary), default=math.nan),
        tolerance=entry.primary.tolerance,
        note=notes[0] if notes else entry.primary.tolerance_note,
        details=details,
    )


def verify_all(names: Iterable[str] | None = None, steps: int = 200,
               seed: int = 0) -> list[VerifyResult]:
    """:func:`verify` for each named entry (default: the whole registry)."""
    entries = [get(n) for n in names] if names is not None else list(REGISTRY.values())
    return [verify(e, steps=steps, seed=seed) for e in entries]


def _fmt(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1e}"


def format_table(results: Sequence[VerifyResult]) -> str:
    """An aligned text table, one row per entry and reference, then the notes of rows that
    did not pass or that use a looser tolerance."""
    header = ("name", "reference", "settings", "steps", "max abs diff", "max rel diff",
              "tolerance", "status")
    rows, notes = [], []
    for r in results:
        for label in dict.fromkeys(d.reference for d in r.details):
            runs = [d for d in r.details if d.reference == label]
            ran = [d for d in runs if d.status in ("passed", "failed")]
            status = min((d.status for d in runs), key=_ORDER.index)
            tol = runs[0].tolerance
            rows.append((r.name, label, str(len(runs)), str(r.steps),
                         _fmt(max((d.max_abs for d in ran), default=math.nan)),
                         _fmt(max((d.max_rel for d in ran), default=math.nan)),
                         f"{tol:.0e}", status))
            bad = next((d for d in runs if d.status == status), None)
            if status != "passed" and bad is not None:
                notes.append(f"{r.name} ({label}): {bad.note}")
            elif tol > 1e-10 and label == r.reference and r.note:
                notes.append(f"{r.name} ({label}): tolerance {tol:.0e}: {r.note}")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    numeric = {2, 3, 4, 5, 6}

    def line(cells):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    if notes:
        out += [""] + notes
    return "\n".join(out)
