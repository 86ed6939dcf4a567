"""The ``discover`` command line.

This module is the argparse tree and one handler per command; every handler calls ``discover``'s
public API (:mod:`discover`) and prints what it returns, formatted by :mod:`discover.browse`
(the library pages) or by the result's own formatter. Errors a user can fix are
:class:`~discover.errors.UserError`s, printed in one line on stderr with exit code 2; any other
exception is a bug and keeps its traceback. ``verify`` exits 1 when a program disagrees with
its reference.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from pathlib import Path

import torch

import discover
from primitives import KINDS, OPS, adaptivity_exponent

from .benchmarks import calibrate, fidelity, optimizers, population, step_time, throughput
from .browse import (describe, entry_row, format_rows, record_verification,
                     verification_table)
from .errors import MissingRun, UsageError, UserError
from .inputs import checked_program
from .novelty import NEAR, SAME, novelty
from .rl import format_rl_table

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# ---- subcommands ----------------------------------------------------------------------------


def _cmd_list(args) -> int:
    rows = []
    for name, entry in discover.REGISTRY.items():
        if args.pattern and not fnmatch.fnmatch(name, args.pattern):
            continue
        row = entry_row(entry)
        if args.kind and args.kind not in row["kinds"].split(","):
            continue
        rows.append(row)
    if not rows:
        raise UsageError(f"no optimizer matches pattern={args.pattern!r} kind={args.kind!r}")
    print(format_rows(rows))
    print(f"\n{len(rows)} of {len(discover.REGISTRY)} programs")
    return 0


def _cmd_show(args) -> int:
    print(describe(discover.get(args.name)))
    return 0


def _cmd_ops(args) -> int:
    width = max(len(n) for n in OPS)
    for kind in KINDS:
        print(f"# {kind}")
        for op in OPS.values():
            if op.kind == kind:
                tag = "" if op.search else "  [exact/library only]"
                print(f"  {op.name:<{width}}  arity {op.arity}  {op.doc}{tag}")
    return 0


def _cmd_verify(args) -> int:
    if args.all == bool(args.names):
        raise UsageError("give optimizer names or --all, not both and not neither")
    entries = (list(discover.REGISTRY.values()) if args.all
               else [discover.get(n) for n in args.names])
    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    results = []
    for i, entry in enumerate(entries, 1):
        if sys.stderr.isatty():
            print(f"\r[{i}/{len(entries)}] verifying {entry.name:<24}", end="", file=sys.stderr)
        results.append(discover.verify(entry, steps=args.steps, seed=args.seed))
    if sys.stderr.isatty():
        print("\r" + " " * 50 + "\r", end="", file=sys.stderr)
    print(verification_table(results))
    record_verification(results)
    counts = {s: sum(r.status == s for r in results)
              for s in ("passed", "failed", "skipped", "error")}
    print("\n" + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return 1 if counts["failed"] or counts["error"] else 0


def _cmd_export(args) -> int:
    program = checked_program(args.program)
    path = discover.write_export(program, args.output, class_name=args.class_name)
    print(f"wrote {path} (program {program.name!r})")
    return 0


def _device(name: str):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (use cpu or auto)")
    return torch.device(name)


def _cmd_bench_step_time(args) -> int:
    if args.steps < 1 or args.rounds < 1:
        raise UsageError("--steps and --rounds must be >= 1")
    step_time.run(_device(args.device), steps=args.steps, rounds=args.rounds)
    return 0


def _cmd_bench_throughput(args) -> int:
    if args.rounds < 1 or args.threads < 1:
        raise UsageError("--rounds and --threads must be >= 1")
    throughput.run(_device(args.device), threads=args.threads, repeats=args.rounds,
                   suite=not args.no_suite)
    return 0


def _cmd_bench_calibrate(args) -> int:
    if args.threads < 1 or (args.steps is not None and args.steps < 1):
        raise UsageError("--threads and --steps must be >= 1")
    tasks = calibrate.select_tasks(args.suite, args.tasks)
    if args.steps is not None:
        tasks = [t.with_steps(args.steps) for t in tasks]
    out = Path(args.out) if args.out else discover.outputs_dir() / "bench-calibrate"
    calibrate.run(tasks, out, seeds=tuple(args.seeds), device=_device(args.device),
                  threads=args.threads, timing=not args.no_timing)
    return 0


def _cmd_bench_optimizers(args) -> int:
    if args.steps < 1 or args.threads < 1 or not args.max_seconds > 0:
        raise UsageError("--steps and --threads must be >= 1, --max-seconds > 0")
    only = [n for n in args.only.split(",") if n] if args.only else None
    out = Path(args.out) if args.out else discover.outputs_dir() / "bench-optimizers"
    optimizers.run(out, only=only, steps=args.steps, device=_device(args.device),
                   threads=args.threads, max_seconds=args.max_seconds)
    return 0


def _cmd_bench_population(args) -> int:
    if args.programs < 1 or args.rounds < 1 or args.threads < 1 or \
            (args.steps is not None and args.steps < 1):
        raise UsageError("--programs, --rounds, --threads and --steps must be >= 1")
    tasks = None if args.suite is None and not args.tasks else \
        calibrate.select_tasks(args.suite or "pressure", args.tasks)
    population.run(tasks, programs=args.programs, seed=args.seed, depth=args.depth,
                   seeds=tuple(args.seeds), steps=args.steps, rounds=args.rounds,
                   threads=args.threads, micro=not args.no_micro)
    return 0


def _cmd_bench_fidelity(args) -> int:
    if args.programs < 2 or args.workers < 1 or args.max_children < 0:
        raise UsageError("--programs must be >= 2, --workers >= 1, --max-children >= 0")
    from tasks.suites import get_suite  # noqa: PLC0415

    candidates = [s for s in args.candidates.split(",") if s]
    held_out = [s for s in args.held_out.split(",") if s]
    for suite in (*candidates, *held_out):
        if suite != "micro" or suite in held_out:
            get_suite(suite)  # a bad name fails here, before any work
    if not candidates or not held_out:
        raise UsageError("give at least one candidate and one held-out suite")
    names = [n for n in args.names.split(",") if n] if args.names else None
    programs = fidelity.library_programs(args.programs, names)
    programs = [p for p in programs if p.name != fidelity.BASELINE]
    if args.children:
        programs += fidelity.run_children(args.children, args.max_children)
    out = Path(args.out) if args.out else discover.outputs_dir() / "bench-fidelity"
    fidelity.run(out, programs=programs, candidates=candidates, held_out=held_out,
                 seeds=tuple(args.seeds), workers=args.workers, cached_only=args.cached_only)
    return 0


def _cmd_eval(args) -> int:
    if args.suite == "rl":
        return _eval_rl(args)
    if args.rules:
        raise UsageError("--rules applies to --suite rl only")
    if not args.programs:
        raise UsageError("give at least one program (a library name or a .py file)")
    device = _device(args.device)
    programs = [checked_program(ref) for ref in args.programs]  # before any training
    board = discover.evaluate_suite(programs, args.suite, device=str(device), seeds=args.seeds)
    print(board.table())
    out = Path(args.out) if args.out else discover.outputs_dir() / f"eval_{args.suite}"
    files = discover.write_leaderboard(board, out)
    print("\nwrote " + ", ".join(str(f) for f in files))
    return 0


def _eval_rl(args) -> int:
    """The RL suite: learned rules and A2C trained by programs on held-out grid levels."""
    if args.levels < 1 or args.lifetime < 1:
        raise UsageError("--levels and --lifetime must be >= 1")
    rules = {"untrained-lpg": None}
    for ref in args.rules or []:
        path = Path(ref) if Path(ref).is_dir() else discover.outputs_dir() / ref
        missing = [n for n in ("params.pt", "config.json") if not (path / n).is_file()]
        if missing:
            raise MissingRun(f"--rules {ref}: no finished meta-train run at {path} (no "
                             f"{' or '.join(missing)})")
        rules[path.name] = path
    programs = {}
    for ref in args.programs:
        program = checked_program(ref)
        if program.name in programs or program.name in rules:
            raise UsageError(f"two rows are named {program.name!r}; rename one")
        programs[program.name] = program
    suite = discover.RLSuite(levels=args.levels, lifetime=args.lifetime, seed=args.seeds[0])
    table = discover.evaluate_rl(rules, programs, suite)
    print(format_rl_table(table))
    out = Path(args.out) if args.out else discover.outputs_dir() / "eval_rl"
    files = discover.write_rl_outputs(table, out)
    print("\nwrote " + ", ".join(str(f) for f in files))
    return 0


def _print_run(result) -> None:
    figs = discover.run_figures(result.run_dir)
    print(f"run {result.run_dir}: {figs['evaluations']} evaluations, best fitness "
          f"{figs['best_fitness']:.4f}, cache hits {figs['cache_hit_rate']:.0%}, invalid "
          f"children {figs.get('invalid_share', 0.0):.0%}, "
          f"{figs.get('evals_per_min', float('nan')):.1f} evaluations/min")
    print(f"winner: {result.run_dir / 'best_program.py'}; report: {result.run_dir / 'report.md'}")
    print(result.best.source)


def _clock(args) -> dict:
    """``--time T`` as settings: a clock replaces the evaluation budget."""
    if getattr(args, "time", None) is None:
        return {}
    return {"time_limit": discover.parse_duration(args.time), "budget": None}


def _cmd_search(args) -> int:
    if args.device is not None:
        _device(args.device)  # one-line error now if CUDA is asked for and absent
    overrides = {key: getattr(args, key) for key in
                 ("budget", "workers", "seed", "backend", "address", "device", "name")
                 if getattr(args, key) is not None}
    overrides.update(_clock(args))
    _print_run(discover.run_search(args.config, progress=True, **overrides))
    return 0


def _cmd_resume(args) -> int:
    changes = {"budget": args.budget} if args.budget is not None else {}
    changes.update(_clock(args))
    _print_run(discover.resume(args.run, progress=True, convert=args.convert_checkpoint,
                               **changes))
    return 0


def _cmd_meta_train(args) -> int:
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    _device(args.device)  # one-line error now if CUDA is asked for and absent
    run_dir = Path(args.resume) if args.resume else discover.outputs_dir() / (
        args.name or f"meta-train-{args.kind}-seed{args.seed}")
    if args.resume and not run_dir.is_dir():
        run_dir = discover.outputs_dir() / args.resume
    overrides = {"steps": args.steps} if args.steps is not None else {}
    saved = run_dir / "config.json"
    if args.resume and saved.exists():  # the run's own settings; --steps may extend it
        cfg = discover.MetaTrainConfig.load(saved, **overrides)
    else:
        cfg = discover.MetaTrainConfig(kind=args.kind, seed=args.seed, device=args.device, **overrides)
    discover.meta_train(args.kind, cfg, run_dir, resume=bool(args.resume))
    print(f"wrote {run_dir}/ (params.pt, eval.json, log.jsonl)")
    return 0


def _cmd_analyse_adaptivity(args) -> int:
    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    refs = args.programs or list(discover.REGISTRY)
    programs = [checked_program(ref) for ref in refs]
    rows = []
    for program in programs:
        alpha = adaptivity_exponent(program, steps=args.steps, seed=args.seed)
        rowcol = adaptivity_exponent(program, steps=args.steps, seed=args.seed, factored=True)
        rows.append({"name": program.name, "alpha": f"{alpha:.3f}",
                     "alpha (row x col scales)": f"{rowcol:.3f}"})
    print(format_rows(rows))
    print("\nalpha: slope of log|u(D g) / u(g)| on log D, D per entry of a 16 x 24 matrix "
          "(1: SGD-like, 0: Adam-like)")
    return 0


def _cmd_analyse_novelty(args) -> int:
    if args.retune < 0:
        raise UsageError(f"--retune must be >= 0, got {args.retune}")
    program = checked_program(args.program)
    torch.set_num_threads(1)  # small tensors: one thread is fastest, and the time is one core's
    start = time.process_time()
    result = novelty(program, retune=args.retune, seed=args.seed)
    seconds = time.process_time() - start
    print(f"{program.name}: {result.summary()}\n")
    print(result.table(top=3))
    print(f"\ndistance: relative error of the library rule's rescaled updates on shared "
          f"gradient sequences; same <= {SAME:g}, other constants <= {NEAR:g} after retuning; "
          f"{seconds:.1f} s CPU")
    return 0


def _cmd_report(args) -> int:
    path = discover.report(args.run)
    figs = discover.run_figures(args.run)
    print(f"wrote {path} ({figs['evaluations']} evaluations, best fitness "
          f"{figs['best_fitness']:.4f}, cache hits {figs['cache_hit_rate']:.0%})")
    return 0


# ---- parser ---------------------------------------------------------------------------------


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print its figures (not a test)")
    bench = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", parser_class=_Parser)
    bench.required = True

    b = bench.add_parser("step-time", help="the engine's Adam, the exported Adam and "
                         "torch.optim.Adam stepping ~10M parameters")
    b.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    b.add_argument("--steps", type=int, default=20, help="steps per timed round (default 20)")
    b.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    b.set_defaults(func=_cmd_bench_step_time)

    b = bench.add_parser("throughput", help="the batched protocol against a plain loop, and "
                         "proxy-suite evaluations per minute")
    b.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    b.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3)")
    b.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    b.add_argument("--no-suite", action="store_true", help="skip the proxy suite")
    b.set_defaults(func=_cmd_bench_throughput)

    b = bench.add_parser("calibrate", help="tuned SGD, heavy-ball, Adam-class and sign rules "
                         "per task against Adam: which tasks are pressure tasks or controls")
    b.add_argument("--suite", default="pressure", help="the tasks of this suite (default pressure)")
    b.add_argument("--tasks", nargs="+", metavar="TASK", help="task names instead of a suite")
    b.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="default: 0 1 2")
    b.add_argument("--steps", type=int, help="another step budget (a quick look)")
    b.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    b.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    b.add_argument("--no-timing", action="store_true", help="skip the seconds per evaluation")
    b.add_argument("--out", help="output folder (default outputs/bench-calibrate)")
    b.set_defaults(func=_cmd_bench_calibrate)

    b = bench.add_parser("population", help="B programs trained together (evaluate_population) "
                         "against one at a time, and the micro tier's evaluations per second")
    b.add_argument("--programs", type=int, default=16, help="B, children of adamw, lion and "
                   "heavy-ball (default 16)")
    b.add_argument("--seed", type=int, default=0, help="mutation seed (default 0)")
    b.add_argument("--depth", type=int, default=2, help="mutations per child (default 2)")
    b.add_argument("--suite", help="the tasks of this suite (default: pressure and small proxy)")
    b.add_argument("--tasks", nargs="+", metavar="TASK", help="task names instead")
    b.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default 0)")
    b.add_argument("--steps", type=int, help="another step budget (a quick look)")
    b.add_argument("--rounds", type=int, default=1, help="timed rounds, best kept (default 1)")
    b.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    b.add_argument("--no-micro", action="store_true", help="skip the micro tier")
    b.set_defaults(func=_cmd_bench_population)

    b = bench.add_parser("fidelity", help="Spearman rank correlation of candidate fitness suites "
                         "(proxy, proxy_v1, light) against the held-out suites over library "
                         "programs and search children")
    b.add_argument("--programs", type=int, default=40, help="library programs with an lr, "
                   "spread over the library, AdamW included (default 40)")
    b.add_argument("--names", metavar="NAME,...", help="these library programs instead")
    b.add_argument("--children", metavar="RUN_DIR", help="also distinct trained children of "
                   "this search run")
    b.add_argument("--max-children", type=int, default=200, help="at most this many (default "
                   "200)")
    b.add_argument("--candidates", default="micro,light,proxy,proxy_v1", help="suites a search "
                   "could train on, or micro (default micro,light,proxy,proxy_v1)")
    b.add_argument("--held-out", default="validation,test", help="suites they should rank "
                   "like (default validation,test)")
    b.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default 0)")
    b.add_argument("--workers", type=int, default=2, help="parallel evaluations (default 2)")
    b.add_argument("--out", help="output folder, also the metrics cache (default "
                   "outputs/bench-fidelity)")
    b.add_argument("--cached-only", action="store_true", help="train nothing: report the "
                   "programs whose metrics are all in the cache (a long run stopped early)")
    b.set_defaults(func=_cmd_bench_fidelity)

    b = bench.add_parser("optimizers", help="each exported class against its package reference "
                         "(torch.optim, pytorch_optimizer): ms per step on ~10M parameters")
    b.add_argument("--only", metavar="NAME,...", help="these library programs (default: every "
                   "one with a package reference)")
    b.add_argument("--steps", type=int, default=20, help="timed steps, median (default 20)")
    b.add_argument("--max-seconds", type=float, default=60.0, help="stop timing a program "
                   "after this many seconds, 3 steps at least (default 60)")
    b.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    b.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    b.add_argument("--out", help="output folder (default outputs/bench-optimizers)")
    b.set_defaults(func=_cmd_bench_optimizers)


def _add_analyse(sub) -> None:
    p = sub.add_parser("analyse", aliases=["analyze"], help="behavioural analyses of programs")
    analyse = p.add_subparsers(dest="analysis", metavar="ANALYSIS", parser_class=_Parser)
    analyse.required = True

    a = analyse.add_parser("adaptivity", help="the adaptivity exponent alpha of each program "
                           "(1: the update follows the gradient's scale, 0: it does not)")
    a.add_argument("programs", nargs="*", metavar="PROGRAM",
                   help="library names or .py files (default: the whole library)")
    a.add_argument("--steps", type=int, default=32, help="steps per run (default 32)")
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=_cmd_analyse_adaptivity)

    a = analyse.add_parser("novelty", help="the closest library rules by behaviour, and whether "
                           "the program is one of them, one with other constants, or novel")
    a.add_argument("program", metavar="PROGRAM", help="a .py file or a library name")
    a.add_argument("--retune", type=int, default=3, help="retune this many closest rules and "
                   "this many most similar in ops (default 3)")
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=_cmd_analyse_novelty)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="discover", description="Discover, verify and export optimizer "
                     "update rules written as symbolic programs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("list", help="list the library of known optimizers")
    p.add_argument("pattern", nargs="?", help="shell-style name pattern, e.g. 'adam*'")
    p.add_argument("--kind", choices=KINDS, help="only programs using an op of this kind")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="print a library program with its docstring and references")
    p.add_argument("name")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("ops", help="list the op registry")
    p.set_defaults(func=_cmd_ops)

    p = sub.add_parser("verify", help="check library programs against their references")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="verify every program in the library")
    p.add_argument("--steps", type=int, default=200, help="steps per problem (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("export", help="write a program as a standalone torch.optim.Optimizer")
    p.add_argument("program", metavar="NAME_OR_FILE")
    p.add_argument("-o", "--output", required=True, help="the .py file to write")
    p.add_argument("--class-name", help="class name (default: from the program name)")
    p.set_defaults(func=_cmd_export)

    _add_bench(sub)

    p = sub.add_parser("eval", help="score programs on a task suite beside AdamW: leaderboard, "
                       "CSV and plots")
    p.add_argument("programs", nargs="*", metavar="PROGRAM",
                   help="library names or .py files with one program each (rl: optimizers "
                   "that train the A2C rows)")
    p.add_argument("--suite", default="proxy", help="proxy (default), validation, test, or rl "
                   "(learned rules beside A2C trained by the programs, on held-out grid levels)")
    p.add_argument("--rules", nargs="+", metavar="RUN", help="rl: meta-train run directories "
                   "(or names under outputs/) to score; an untrained LPG is always added")
    p.add_argument("--levels", type=int, default=64, help="rl: held-out levels (default 64)")
    p.add_argument("--lifetime", type=int, default=250, help="rl: agent updates (default 250)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="default: 0 1")
    p.add_argument("--out", help="output folder (default outputs/eval_SUITE)")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("search", help="evolve update rules (Lion-style regularized evolution); "
                       "writes outputs/RUN/")
    p.add_argument("--config", help="JSON file of search settings (keys of search.SearchConfig)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--budget", type=int, metavar="N", help="evaluations to run (default 48)")
    when.add_argument("--time", metavar="T", help="search for a duration instead: 300, 90s, 5m, 1h")
    p.add_argument("--workers", type=int, metavar="W", help="parallel evaluations (default 2)")
    p.add_argument("--seed", type=int, help="search seed (default 0)")
    p.add_argument("--backend", choices=["loky", "dask", "ray"], help="default loky")
    p.add_argument("--address", metavar="HOST:PORT", help="dask/ray scheduler (default: local)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="default cpu")
    p.add_argument("--name", metavar="RUN", help="outputs/RUN/ (default: search-DATE-TIME)")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("resume", help="continue a stopped search run from its checkpoint")
    p.add_argument("run", metavar="RUN", help="run name (under outputs/) or directory")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--budget", type=int, metavar="N", help="new total evaluation budget")
    when.add_argument("--time", metavar="T", help="new total search time: 300, 90s, 5m, 1h")
    p.add_argument("--convert-checkpoint", action="store_true", help="first convert the run's "
                   "old checkpoint.pkl to checkpoint.json; this unpickles it, which can run "
                   "code: only for runs you made yourself")
    p.set_defaults(func=_cmd_resume)

    p = sub.add_parser("meta-train", help="meta-train a learned RL objective (LPG, "
                       "temporally-aware LPG by ES, GROOVE); writes outputs/RUN/")
    p.add_argument("kind", choices=["lpg", "ta-lpg", "groove", "es-lpg"],
                   help="es-lpg: LPG by the ES of ta-lpg without its lifetime inputs (a control)")
    p.add_argument("--steps", type=int, metavar="N", help="meta-steps / ES generations "
                   "(default per kind: 1000 for lpg and groove, 100 for ta-lpg and es-lpg)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", metavar="RUN", help="outputs/RUN/ (default meta-train-KIND-seedS)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--resume", metavar="RUN", help="continue the run in RUN (name or directory)")
    p.set_defaults(func=_cmd_meta_train)

    _add_analyse(sub)

    p = sub.add_parser("report", help="write plots and report.md for a search run")
    p.add_argument("run", metavar="RUN", help="run name (under outputs/) or directory")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UserError as exc:  # bad input; anything else is a bug and keeps its traceback
        print(f"discover: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("discover: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
