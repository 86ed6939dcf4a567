"""Step-time benchmark: the engine's Adam program, the exported Adam and torch.optim.Adam.

All optimizers step the same ~10M float32 parameters (a transformer-like mix of shapes) with the
same gradients; each is timed over the same number of steps after a warm-up, interleaved in
rounds so that machine noise hits all of them alike. Ratios are to ``torch.optim.Adam(foreach=True)``
measured in the same run.

    discover bench step-time [--device cpu|cuda|auto] [--steps 20] [--rounds 3]
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import torch

from primitives import Executor

from ..export import write_export
from ..programs import resolve


def shapes(d_model=512, layers=3, vocab=4096):
    """About 10M parameters: embeddings, attention and MLP matrices, norms and biases."""
    out = [(vocab, d_model)]
    for _ in range(layers):
        out += [(3 * d_model, d_model), (3 * d_model,), (d_model, d_model), (d_model,),
                (4 * d_model, d_model), (4 * d_model,), (d_model, 4 * d_model), (d_model,),
                (d_model,), (d_model,), (d_model,), (d_model,)]
    out += [(d_model,), (d_model,), (10, d_model), (10,), (64, 3, 3, 3)]
    return out


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class _Engine:
    """The engine's executor as a minimal optimizer (what discover.optimizer wraps)."""

    def __init__(self, params, program, lr, foreach=None):
        self.params = params
        self.ex = Executor(program, foreach=foreach)
        self.state = self.ex.init_state(params)
        self.hyper = {"lr": lr}
        self.t = 0

    def step(self):
        self.t += 1
        self.ex.step_(self.params, [p.grad for p in self.params], self.state, self.hyper, t=self.t)


def _load_exported(path: Path, class_name: str):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)


def run(device: torch.device, steps: int = 20, rounds: int = 3) -> dict[str, float]:
    """Median seconds per step of each optimizer; prints the table."""
    gen = torch.Generator().manual_seed(0)
    base = [torch.randn(s, generator=gen) * 0.02 for s in shapes()]
    grads = [torch.randn(s, generator=gen) for s in shapes()]
    n = sum(p.numel() for p in base)
    program = resolve("adam")

    with tempfile.TemporaryDirectory() as tmp:
        path = write_export(program, Path(tmp) / "exported_adam.py", class_name="ExportedAdam")
        ExportedAdam = _load_exported(Path(path), "ExportedAdam")  # noqa: N806

    def params():
        ps = [p.clone().to(device).requires_grad_() for p in base]
        for p, g in zip(ps, grads):
            p.grad = g.to(device)
        return ps

    makers = {
        "torch.optim.Adam(foreach=True)": lambda: torch.optim.Adam(params(), lr=1e-3, foreach=True),
        "torch.optim.Adam(foreach=False)": lambda: torch.optim.Adam(params(), lr=1e-3, foreach=False),
        "engine (default path)": lambda: _Engine(params(), program, 1e-3),
        "engine (foreach=True)": lambda: _Engine(params(), program, 1e-3, foreach=True),
        "engine (foreach=False)": lambda: _Engine(params(), program, 1e-3, foreach=False),
        "exported Adam (default path)": lambda: ExportedAdam(params(), lr=1e-3),
        "exported Adam (foreach=True)": lambda: ExportedAdam(params(), lr=1e-3, foreach=True),
        "exported Adam (foreach=False)": lambda: ExportedAdam(params(), lr=1e-3, foreach=False),
    }
    opts = {name: make() for name, make in makers.items()}
    times = {name: [] for name in opts}
    for opt in opts.values():  # warm-up: state creation, allocator
        for _ in range(3):
            opt.step()
    with torch.no_grad():
        for _ in range(rounds):
            for name, opt in opts.items():
                _sync(device)
                start = time.perf_counter()
                for _ in range(steps):
                    opt.step()
                _sync(device)
                times[name].append((time.perf_counter() - start) / steps)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    ref = medians["torch.optim.Adam(foreach=True)"]
    fastest = min(("torch.optim.Adam(foreach=True)", "torch.optim.Adam(foreach=False)"),
                  key=medians.get)
    best = medians[fastest]
    print(f"device {device}, {n / 1e6:.2f}M parameters in {len(base)} tensors, "
          f"{steps} steps x {rounds} rounds, threads {torch.get_num_threads()}")
    print(f"{'optimizer':<34} {'ms/step (median)':>17} {'ratio to Adam(foreach)':>23} "
          f"{'ratio to faster Adam':>21}")
    for name, med in medians.items():
        print(f"{name:<34} {med * 1e3:>17.2f} {med / ref:>23.3f} {med / best:>21.3f}")
    print(f"faster torch Adam here: {fastest}; target: engine and export (default paths) "
          f"at most 1.0x it: engine {medians['engine (default path)'] / best:.3f}x, "
          f"export {medians['exported Adam (default path)'] / best:.3f}x")
    return medians
