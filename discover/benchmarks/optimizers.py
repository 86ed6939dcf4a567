"""Exported classes against their package references: time per step on the same parameters.

For every library program verified against a package class (``torch.optim.*`` or
``pytorch_optimizer.*``), the exported class (:func:`discover.optimizer`, the class ``discover
export`` writes) and that reference class step the same ~10M float32 parameters -- the weights
and biases of a 3-layer MLP, 1536-2048-2048-1536 -- with the same random gradients, set
directly (no forward or backward pass is timed). Both optimizers live side by side and step
alternately, each step timed alone, so that noise from a busy machine hits both alike; after a
warm-up (state creation, the allocator) the result is the median of ``steps`` steps, or of the
steps taken when a case has used ``max_seconds`` (at least 3: the matrix programs take seconds
per step on a CPU; the ``steps`` column says how many).

Hyperparameters are the program's defaults, given to the exported class as its own defaults and
to the reference through the entry's own mapping (:attr:`discover.library.Reference.make`, the
one :mod:`discover.verify` checks), so both run the same math. Programs that read the ``loss``
get it from ``step(closure)``; those that read ``h`` get a random positive Hessian diagonal
through ``step(hessian=...)``. Parameters the entry does not cover (Muon: matrices only) are
left out for both.

Both sides run their default path: torch.optim's classes and the exported ones pick foreach
kernels for CUDA tensors and the per-tensor loop on a CPU (``path`` in the table says which
torch picked); pytorch_optimizer's classes run their own loops. Where an entry has several
package references, the class as the package ships it is timed (not a float64 twin).

    discover bench optimizers [--only adam,lion] [--steps 20] [--max-seconds 60] [--threads 1]
                              [--device cpu] [--out outputs/bench-optimizers]
"""

from __future__ import annotations

import csv
import importlib
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch

from ..errors import UsageError
from ..library import REGISTRY, Entry, Reference, get

__all__ = ["MLP_SHAPES", "Row", "package_reference", "cases", "time_case", "run",
           "format_table"]

#: a 3-layer MLP 1536-2048-2048-1536, weights then bias per layer: 10.5M parameters
MLP_SHAPES = ((2048, 1536), (2048,), (2048, 2048), (2048,), (1536, 2048), (1536,))
_PACKAGES = ("torch.optim.", "pytorch_optimizer.")


@dataclass(frozen=True)
class Row:
    """One program against its reference: median milliseconds per step of each."""

    program: str
    reference: str
    #: the implementation torch picks on this device ("for-loop" or "foreach")
    path: str
    exported_ms: float
    reference_ms: float
    #: timed steps per side (fewer than asked when the case reached its time limit)
    steps: int = 0
    #: why a side did not run (then the times are NaN)
    note: str = ""

    @property
    def ratio(self) -> float:
        """Exported time over reference time: below 1 the exported class is faster."""
        return self.exported_ms / self.reference_ms

    @property
    def torch_optim(self) -> bool:
        return self.reference.startswith("torch.optim.")


def package_reference(entry: Entry) -> Reference | None:
    """The entry's reference that is a package class, or None: the class as shipped where a
    float64 twin is also listed, else the first such reference."""
    package = [r for r in entry.references if r.label.startswith(_PACKAGES)]
    shipped = [r for r in package if "as shipped" in r.label]
    return (shipped or package or [None])[0]


def cases(only: Iterable[str] | None = None) -> list[tuple[Entry, Reference]]:
    """(entry, package reference) for the named entries (default: every one that has one); a
    named entry without a package reference is an error."""
    if only is None:
        pairs = [(e, package_reference(e)) for e in REGISTRY.values()]
        return [(e, r) for e, r in pairs if r is not None]
    out = []
    for name in only:
        entry = get(name)  # unknown names: UnknownOptimizer with suggestions
        ref = package_reference(entry)
        if ref is None:
            raise UsageError(f"{name!r} has no package reference (its references: "
                             f"{', '.join(r.label for r in entry.references)})")
        out.append((entry, ref))
    return out


def _available(ref: Reference) -> str:
    """'' when the reference's package imports, else the install hint."""
    if ref.requires is None:
        return ""
    try:
        __import__(ref.import_name)
    except ImportError:
        return f"needs pip install {ref.requires}"
    return ""


def _path(params: Sequence[torch.Tensor]) -> str:
    """Which implementation torch.optim's default (``foreach=None``) runs on these tensors."""
    module = importlib.import_module("torch.optim.optimizer")
    choose = getattr(module, "_default_to_fused_or_foreach", None)
    if choose is None:  # pragma: no cover - older or newer torch: its documented rule
        foreach = all(p.device.type in ("cuda", "xpu") for p in params)
    else:
        foreach = choose(list(params), differentiable=False, use_fused=False)[1]
    return "foreach" if foreach else "for-loop"


class _Side:
    """One optimizer on its own copy of the parameters, stepped as a user would."""

    def __init__(self, optimizer, params, hessian, loss, by_param: bool):
        self.optimizer = optimizer
        self.kwargs = {}
        if hessian is not None:  # the exported class takes {param: h}, the packages a list
            self.kwargs["hessian"] = dict(zip(params, hessian)) if by_param else list(hessian)
        self.closure = (lambda: loss) if loss is not None else None

    def step(self, device) -> float:
        _sync(device)
        start = time.perf_counter()
        self.optimizer.step(self.closure, **self.kwargs)
        _sync(device)
        return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _tensors(entry, shapes, device, seed):
    """The parameters, gradients and (if the program reads it) Hessian diagonal of one run."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [s for s in shapes if entry.supports_ndim(len(s))]
    weights = [torch.randn(s, generator=gen) * 0.02 for s in shapes]
    grads = [torch.randn(s, generator=gen) for s in shapes]
    hess = ([torch.rand(s, generator=gen) + 0.1 for s in shapes]
            if "h" in entry.program.input_names else None)
    return [t.to(device) for t in weights], [t.to(device) for t in grads], (
        None if hess is None else [t.to(device) for t in hess])


def _params(weights, grads, device):
    ps = [w.clone().requires_grad_(True) for w in weights]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    return ps


def time_case(entry: Entry, ref: Reference, shapes=MLP_SHAPES, steps: int = 20,
              warmup: int = 3, device: torch.device | str = "cpu", seed: int = 0,
              max_seconds: float = math.inf) -> Row:
    """Median seconds per step (as ms) of the exported class and the reference, stepped in turn
    (the order alternates every step); timing stops early, after at least 3 steps each, once
    the timed steps of both sides add up to ``max_seconds``."""
    import discover  # noqa: PLC0415 - the exporter loads on first use

    device = torch.device(device)
    missing = _available(ref)
    if missing:
        return Row(entry.name, ref.label, "", math.nan, math.nan, missing)
    weights, grads, hess = _tensors(entry, shapes, device, seed)
    loss = (torch.tensor(1.0, device=device) if "loss" in entry.program.input_names else None)
    hyper = dict(entry.program.hyperparameters)
    ours, theirs = _params(weights, grads, device), _params(weights, grads, device)
    try:
        sides = (_Side(discover.optimizer(entry.name)(ours), ours, hess, loss, True),
                 _Side(ref.make(theirs, dict(hyper)), theirs, hess, loss, False))
        times = ([], [])
        for i in range(warmup + steps):
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for k in order:
                elapsed = sides[k].step(device)
                if i >= warmup:
                    times[k].append(elapsed)
            if len(times[0]) >= 3 and sum(times[0]) + sum(times[1]) > max_seconds:
                break
    except Exception as exc:  # noqa: BLE001 - a crash is a row of the table, not the end of it
        message = " ".join(str(exc).split())[:120] or type(exc).__name__
        return Row(entry.name, ref.label, _path(ours), math.nan, math.nan,
                   f"{type(exc).__name__}: {message}")
    return Row(entry.name, ref.label, _path(ours), statistics.median(times[0]) * 1e3,
               statistics.median(times[1]) * 1e3, len(times[0]))


def format_table(rows: Sequence[Row], markdown: bool = False) -> str:
    """The ratio table, one row per program, then the verdict for the torch.optim rows."""
    header = ("program", "reference", "path", "steps", "exported ms/step", "reference ms/step",
              "ratio")

    def cells(r: Row):
        num = (lambda x: "-" if math.isnan(x) else f"{x:.2f}")
        ratio = "-" if math.isnan(r.ratio) else f"{r.ratio:.3f}"
        return (r.program, r.reference, r.path, str(r.steps), num(r.exported_ms),
                num(r.reference_ms), ratio + (f" ({r.note})" if r.note else ""))

    body = [cells(r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" * 4]
        lines += ["| " + " | ".join(c) + " |" for c in body]
    else:
        widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
                  for i, h in enumerate(header)]
        line = (lambda cs: "  ".join(c.rjust(w) if i >= 3 else c.ljust(w)
                                     for i, (c, w) in enumerate(zip(cs, widths))).rstrip())
        lines = [line(header), "  ".join("-" * w for w in widths)] + [line(c) for c in body]
    return "\n".join(lines + [""] + _summary(rows))


def _summary(rows: Sequence[Row]) -> list[str]:
    ran = [r for r in rows if math.isfinite(r.ratio)]
    torch_rows = [r for r in ran if r.torch_optim]
    slow = [f"{r.program} {r.ratio:.2f}x" for r in torch_rows if r.ratio > 1.0]
    out = [f"torch.optim references: {len(torch_rows) - len(slow)} of {len(torch_rows)} "
           f"exported classes at most 1.0x" + (f"; above: {', '.join(slow)}" if slow else "")]
    others = [r.ratio for r in ran if not r.torch_optim]
    if others:
        out.append(f"pytorch_optimizer references: {len(others)} programs, ratio median "
                   f"{statistics.median(others):.2f}x, {sum(x <= 1.0 for x in others)} at most "
                   f"1.0x, range {min(others):.2f}x..{max(others):.2f}x")
    failed = [r for r in rows if not math.isfinite(r.ratio)]
    if failed:
        out.append(f"not timed: {len(failed)} ({', '.join(r.program for r in failed)})")
    return out


def _write(rows: Sequence[Row], out: Path, heading: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "optimizers.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["program", "reference", "path", "steps", "exported_ms",
                         "reference_ms", "ratio", "note"])
        for r in rows:
            writer.writerow([r.program, r.reference, r.path, r.steps, f"{r.exported_ms:.4f}",
                             f"{r.reference_ms:.4f}", f"{r.ratio:.4f}", r.note])
    (out / "optimizers.md").write_text(f"{heading}\n\n{format_table(rows, markdown=True)}\n")


def run(out: Path | None, only: Iterable[str] | None = None, shapes=MLP_SHAPES,
        steps: int = 20, warmup: int = 3, device: torch.device | str = "cpu",
        threads: int | None = None, max_seconds: float = 60.0,
        progress: bool = True) -> list[Row]:
    """Time every case, print the table and write ``optimizers.csv`` and ``optimizers.md``
    under ``out`` (None: print only). ``threads`` sets torch's intra-op threads for the run;
    ``max_seconds`` caps each case's timed steps (see :func:`time_case`)."""
    device = torch.device(device)
    chosen = cases(only)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        n = sum(math.prod(s) for s in shapes)
        heading = (f"device {device}, {n / 1e6:.2f}M float32 parameters in {len(shapes)} "
                   f"tensors, median of {steps} steps (at most {max_seconds:g} s a case, 3 "
                   f"steps at least) after {warmup} warm-up, threads "
                   f"{torch.get_num_threads()}, torch {torch.__version__}")
        rows = []
        for i, (entry, ref) in enumerate(chosen, 1):
            if progress:
                print(f"[{i}/{len(chosen)}] {entry.name}", file=sys.stderr, flush=True)
            rows.append(time_case(entry, ref, shapes, steps, warmup, device,
                                  max_seconds=max_seconds))
            if out is not None:  # after every case: a stopped run keeps what it measured
                _write(rows, Path(out), heading)
    finally:
        torch.set_num_threads(previous)
    print(heading)
    print(format_table(rows))
    if out is not None:
        print(f"wrote {Path(out) / 'optimizers.csv'} and {Path(out) / 'optimizers.md'}")
    return rows
