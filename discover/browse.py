"""Browsing the library: the rows of ``discover list``, the page of ``discover show`` and the
table of ``discover verify`` (whose outcomes ``discover list`` shows)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from primitives import OPS, Executor

from .paths import outputs_dir
from .verify import format_table as verification_table

__all__ = ["entry_row", "format_rows", "describe", "state_size", "op_kinds",
           "record_verification", "verification_status", "verification_table"]

#: the parameter shape on which "state size" is measured (a square matrix)
_PROBE_SHAPE = (256, 256)


def state_size(program) -> float:
    """Optimizer state per parameter element (Adam: 2.0; Adafactor: about 2/256)."""
    shapes = Executor(program).state_shapes(_PROBE_SHAPE)
    numel = math.prod(_PROBE_SHAPE)
    return sum(math.prod(s) for s in shapes.values()) / numel


def op_kinds(program) -> list[str]:
    """The op kinds a program uses beyond elementwise maths, e.g. ``["tensor_reduction"]``."""
    kinds = {OPS[s.op].kind for s in program.body} - {"elementwise", "constant"}
    return sorted(kinds) or ["elementwise"]


def _status_file() -> Path:
    return outputs_dir() / "verify_status.json"


def record_verification(results) -> None:
    """Remember the outcome of ``discover verify`` so that ``discover list`` can show it."""
    path = _status_file()
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        data = {}
    for r in results:
        data[r.name] = {"status": r.status, "max_rel": r.max_rel}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def verification_status(name: str) -> str:
    try:
        data = json.loads(_status_file().read_text())
    except (OSError, ValueError):
        return "not run"
    return data.get(name, {}).get("status", "not run")


def entry_row(entry) -> dict[str, str]:
    program = entry.program
    return {
        "name": entry.name,
        "year": str(entry.year),
        "state": f"{state_size(program):.3g}",
        "kinds": ",".join(op_kinds(program)),
        "verified": verification_status(entry.name),
        "reference": entry.primary.label,
        "paper": entry.paper,
    }


def format_rows(rows: list[dict[str, str]], max_width: int = 48) -> str:
    cols = list(rows[0])
    cut = {c: min(max_width, max(len(c), *(len(r[c]) for r in rows))) for c in cols}

    def fit(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "~"

    lines = ["  ".join(c.ljust(cut[c]) for c in cols).rstrip()]
    lines.append("  ".join("-" * cut[c] for c in cols))
    for r in rows:
        lines.append("  ".join(fit(r[c], cut[c]).ljust(cut[c]) for c in cols).rstrip())
    return "\n".join(lines)


def describe(entry) -> str:
    """The page of ``discover show``: metadata, references, then the program source."""
    program = entry.program
    primary = entry.primary
    needs = f"  [needs pip install {primary.requires}]" if primary.requires else ""
    lines = [
        f"{entry.name}: {entry.paper} ({entry.year})",
        f"  family:      {entry.family or '-'}" + (f"  ({entry.path})" if entry.path else ""),
        f"  reference:   {primary.label}{needs}",
        f"  state size:  {state_size(program):.3g} x parameters",
        f"  op kinds:    {', '.join(op_kinds(program))}",
        f"  verified:    {verification_status(entry.name)}",
    ]
    if getattr(entry, "notes", ""):
        lines.append(f"  notes:       {entry.notes}")
    return "\n".join(lines) + "\n\n" + entry.source.strip() + "\n"
