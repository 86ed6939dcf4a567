"""The report of a run: plots (PNG, matplotlib Agg) and ``report.md``, from the run's files only.

- ``fitness.png``: every scored child, the best so far and the population median vs evaluations;
- ``length.png``: live program length of every child and the population mean vs evaluations;
- ``report.md``: the run's figures (evaluations, evaluations per minute, cache hit rate, share of
  invalid children, restarts), the hall of fame, and the funnel, simplification and test tables
  when the run made them.

``report(run_dir)`` can be re-run at any time, also on a run still in progress.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .checkpoint import read_checkpoint

__all__ = ["report", "read_log", "run_figures", "pyplot"]


def read_log(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "log.jsonl"
    if not path.exists():
        return []
    lines = []
    for text in path.read_text(errors="replace").splitlines():  # a bad byte: a bad line
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:  # a line cut by a kill: the checkpoint will drop it
            break
    return lines


def _average(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def _value(x) -> float:
    return -math.inf if x is None else float(x)


def run_figures(run_dir: str | Path) -> dict:
    """The run's headline numbers: evaluations, trainings, rates, shares, best fitness."""
    run_dir = Path(run_dir)
    log, ckpt = read_log(run_dir), read_checkpoint(run_dir)
    hits = sum(line["cache_hit"] for line in log)
    trained = [line for line in log if not line["cache_hit"]]
    out = {"evaluations": len(log), "trained": len(log) - hits,
           "seconds_per_training": _average(line["time"] for line in trained),
           "cpu_seconds_per_training": _average(line.get("cpu", math.nan) for line in trained),
           "cache_hit_rate": hits / len(log) if log else 0.0,
           "best_fitness": max((_value(line["fitness"]) for line in log), default=math.nan)}
    stages = [line.get("stage") for line in trained if line.get("stage")]
    if stages:  # the cascade: where trained children stopped (full: scored on the whole suite)
        out["stopped_at"] = {s: round(stages.count(s) / len(stages), 4)
                             for s in dict.fromkeys(stages)}
    if ckpt is not None:
        state, cache = ckpt["state"], ckpt["cache"]
        minutes = ckpt["elapsed"] / 60.0
        out.update(elapsed_s=round(ckpt["elapsed"], 1),
                   evals_per_min=state.told / minutes if minutes > 0 else math.nan,
                   trained_per_min=len(trained) / minutes if minutes > 0 else math.nan,
                   invalid_share=state.invalid_share, invalid_attempts=state.invalid,
                   failed_mutations=state.failed, mutations=dict(state.kinds),
                   restarts=state.restarts, hash_hits=cache.hash_hits,
                   fingerprint_hits=cache.fingerprint_hits, cache_size=len(cache))
    return out


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, or None when matplotlib (the ``plots``
    extra) is not installed: the one place the optional import is written; ``discover.plots``
    uses it too."""
    try:
        import matplotlib  # noqa: PLC0415 - optional (the `plots` extra)
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _plots(run_dir: Path, log: list[dict], logbook) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    xs = [line["eval"] + 1 for line in log]
    fit = [_value(line["fitness"]) for line in log]
    best, running = [], -math.inf
    for f in fit:
        running = max(running, f)
        best.append(running)
    finite = [(x, f) for x, f in zip(xs, fit) if math.isfinite(f)]
    fig, ax = plt.subplots(figsize=(7, 4))
    if finite:
        ax.scatter(*zip(*finite), s=8, alpha=0.35, label="child")
    ax.step(xs, [b if math.isfinite(b) else math.nan for b in best], where="post",
            label="best so far")
    if logbook:
        med = [(r["evals"], r["fitness_median"]) for r in logbook
               if math.isfinite(r["fitness_median"])]
        if med:
            ax.plot(*zip(*med), label="population median")
    ax.set(xlabel="evaluations", ylabel="fitness (1 = baseline)", title="search fitness")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(run_dir / "fitness.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(xs, [line["length"] for line in log], s=8, alpha=0.35,
               label="child (live statements)")
    if logbook:
        ax.plot([r["evals"] for r in logbook], [r["length_mean"] for r in logbook],
                label="population mean")
    ax.set(xlabel="evaluations", ylabel="statements", title="program length")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(run_dir / "length.png", dpi=110)
    plt.close(fig)
    return ["fitness.png", "length.png"]


def _table(rows: list[list], header: list[str]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _fmt(x) -> str:
    return f"{float(x):.4f}" if x is not None and math.isfinite(float(x)) else "-"


def report(run_dir: str | Path) -> Path:
    """Write the plots and ``report.md`` of the run in ``run_dir``; returns the report's path."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a search run (no config.json)")
    config = json.loads((run_dir / "config.json").read_text())
    log, ckpt = read_log(run_dir), read_checkpoint(run_dir)
    logbook = list(ckpt["state"].logbook) if ckpt else []
    figs = run_figures(run_dir)
    plots = _plots(run_dir, log, logbook) if log else []

    md = [f"# Search run `{config.get('name')}`", ""]
    md += [f"- evaluations: {figs['evaluations']} (trained {figs['trained']}, cache hits "
           f"{figs['cache_hit_rate']:.1%})", f"- best fitness: {_fmt(figs['best_fitness'])} "
           f"(1 = baseline `{config.get('baseline')}` on suite `{config.get('suite')}`)"]
    if "evals_per_min" in figs:
        md += [f"- search time: {figs['elapsed_s']} s, {figs['evals_per_min']:.1f} evaluations/min "
               f"with {config.get('workers')} worker(s); a training took "
               f"{figs['seconds_per_training']:.1f} s ({figs['cpu_seconds_per_training']:.1f} "
               "CPU s) on average",
               f"- trained children: {figs['trained_per_min']:.1f}/min"
               + ("; cascade, share of trained children by the stage they reached: " + ", ".join(
                   f"{k} {v:.1%}" for k, v in figs["stopped_at"].items())
                  if "stopped_at" in figs else ""),
               f"- invalid children: {figs['invalid_share']:.1%} of mutation attempts "
               f"({figs['invalid_attempts']} re-mutated, {figs['failed_mutations']} gave up)",
               f"- cache: {figs['hash_hits']} structural-hash hits, {figs['fingerprint_hits']} "
               f"fingerprint hits, {figs['cache_size']} programs stored",
               f"- mutations accepted: {figs['mutations']}; restarts: {figs['restarts']}"]
    md += [""] + [f"![{p}]({p})" for p in plots] + [""]
    if log and not plots:
        md += ["(plots need matplotlib: pip install matplotlib)", ""]

    hof_path = run_dir / "hall_of_fame.csv"
    if hof_path.exists():
        with open(hof_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        md += ["## Hall of fame", ""]
        md += _table([[r["rank"], _fmt(r["fitness"]), r["length"], r["eval"], r["origin"],
                       r.get("alpha") or "-"] for r in rows],
                     ["rank", "fitness", "live statements", "eval", "origin",
                      "alpha (1: SGD-like, 0: Adam-like)"])
        if rows:
            md += ["", "Best program:", "", "```python", rows[0]["source"].rstrip(), "```", ""]
    md += _stage_sections(run_dir)
    path = run_dir / "report.md"
    path.write_text("\n".join(md) + "\n")
    return path


def _stage_sections(run_dir: Path) -> list[str]:
    md = []
    if (run_dir / "funnel.json").exists():
        rows = json.loads((run_dir / "funnel.json").read_text())
        md += ["## Funnel (validation suite)", ""]
        md += _table([[r["rank"], _fmt(r["proxy"]), _fmt(r["validation"])] for r in rows],
                     ["proxy rank", "proxy fitness", "validation score"]) + [""]
    if (run_dir / "simplify.json").exists():
        s = json.loads((run_dir / "simplify.json").read_text())
        md += ["## Simplification", "",
               f"{s['original_length']} -> {s['length']} live statements, score "
               f"{_fmt(s['original_score'])} -> {_fmt(s['score'])} ({s['evaluations']} trainings)",
               "", "```python", s["simplified"].rstrip(), "```", ""]
    if (run_dir / "test.json").exists():
        rows = json.loads((run_dir / "test.json").read_text())
        tasks = list(rows[0]["tasks"]) if rows else []
        md += ["## Held-out test suite", ""]
        md += _table([[r["program"], _fmt(r["test"])] + [_fmt(r["tasks"][t]) for t in tasks]
                      for r in rows], ["program", "mean"] + tasks) + [""]
    if (run_dir / "novelty.json").exists():  # written by discover's finish hook
        n = json.loads((run_dir / "novelty.json").read_text())
        md += ["## Novelty", "", f"The winner, by behaviour against every library rule: "
               f"**{n['summary']}** (distance after the best rescaling; 0 is the same rule, "
               f"within {n['threshold']:g} counts as a match).", ""]
        md += _table([[c["name"], _fmt(c["distance"]), _fmt(c["retuned"]),
                       ", ".join(f"{k}={v:.4g}" for k, v in c["constants"].items()) or "-"]
                      for c in n["closest"]],
                     ["library rule", "distance", "retuned", "constants"]) + [""]
    if (run_dir / "best_program.py").exists():
        md += ["## Files", "", "`best_program.py` (the winner), `hall_of_fame.csv`, `log.jsonl`, "
               "`checkpoint.json`, `config.json`" +
               (", `best_optimizer.py` (torch.optim export)"
                if (run_dir / "best_optimizer.py").exists() else ""), ""]
    return md
