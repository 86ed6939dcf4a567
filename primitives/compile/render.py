"""Spelling a template (:mod:`primitives.compile.templates`) for one tensor, for a foreach
kernel, or as a loop over lists."""

from __future__ import annotations

import string
from dataclasses import dataclass

__all__ = ["Field", "render_expr", "render_stmt", "pack", "indent", "literal"]


@dataclass(frozen=True)
class Field:
    """One argument as the generated code sees it.

    ``kind``: ``"T"`` a per-parameter tensor (a list of them in list code), ``"D"`` a 0-d tensor
    shared by the group (group reductions), ``"S"`` a Python number (literal or variable).
    """

    src: str
    kind: str


class _Formatter(string.Formatter):
    """Formats ``{i}`` / ``{i:t}`` / ``{name}`` placeholders from :class:`Field` objects."""

    def __init__(self, fields, host: bool):
        super().__init__()
        self.fields = fields
        self.host = host
        tensors = [f.src for f in _values(fields) if f.kind != "S"]
        self.ref = tensors[0] if tensors else None

    def get_value(self, key, args, kwargs):
        return self.fields[key]

    def format_field(self, value, format_spec):
        if format_spec == "t" and value.kind == "S":
            if self.host or self.ref is None:
                return f"_f64({value.src})"
            return f"{self.ref}.new_tensor({value.src})"
        return value.src


def _values(fields):
    return fields.values() if isinstance(fields, dict) else fields


def _loop(fields):
    """Per-tensor fields for a loop over lists: list ``x`` becomes the loop variable ``x_``."""
    lists = list(dict.fromkeys(f.src for f in _values(fields) if f.kind == "T"))
    swap = {f: Field(f.src + "_", "T") if f.kind == "T" else f for f in _values(fields)}
    each = {k: swap[f] for k, f in fields.items()} if isinstance(fields, dict) else \
        [swap[f] for f in fields]
    targets = ", ".join(name + "_" for name in lists)
    source = lists[0] if len(lists) == 1 else f"zip({', '.join(lists)})"
    return each, f"for {targets} in {source}"


def _foreach_ok(fields, lists: str) -> bool:
    values = list(_values(fields))
    if any(f.kind == "D" for f in values):  # a 0-d tensor is not a list: loop instead
        return False
    return all(values[int(i)].kind == "T" for i in lists) and any(f.kind == "T" for f in values)


def render_expr(tensor: str, foreach: str | None, fields, mode: str, lists: str = "") -> str:
    """An expression computing a new tensor (``mode`` tensor / host / whole) or list (foreach /
    loop; ``foreach`` is used when given and the fields allow it, else a list comprehension)."""
    fmt = lambda tpl, fs: _Formatter(fs, mode == "host").format(tpl)  # noqa: E731
    if mode in ("tensor", "host", "whole"):
        return fmt(tensor, fields)
    if mode == "foreach" and foreach is not None and _foreach_ok(fields, lists):
        return fmt(foreach, fields)
    each, loop = _loop(fields)
    return f"[{fmt(tensor, each)} {loop}]"


def render_stmt(tensor: str, foreach: str | None, fields, mode: str, lists: str = "") -> list[str]:
    """Statement lines of an in-place kernel (same modes as :func:`render_expr`)."""
    if mode in ("tensor", "host", "whole"):
        return [_Formatter(fields, False).format(tensor)]
    if mode == "foreach" and foreach is not None and _foreach_ok(fields, lists):
        return [_Formatter(fields, False).format(foreach)]
    each, loop = _loop(fields)
    return [f"{loop}:", "    " + _Formatter(each, False).format(tensor)]


def pack(head: str, items, tail: str, indent: int = 0, width: int = 99) -> str:
    """``head + ", ".join(items) + tail`` wrapped at ``width``, aligned after ``head``."""
    lines, line = [], " " * indent + head
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else tail)
        if len(line) + len(piece.rstrip()) > width and line.strip() != head.strip():
            lines.append(line.rstrip())
            line = " " * (indent + len(head))
        line += piece
    if not items:
        line += tail
    return "\n".join(lines + [line])[indent:]


def indent(lines, n=1) -> list[str]:
    """``lines`` indented by ``n`` levels (empty lines stay empty)."""
    pad = "    " * n
    return [pad + ln if ln else ln for ln in lines]


def literal(a: float) -> str:
    """A number as source (negative numbers in parentheses)."""
    return f"({a!r})" if a < 0 else repr(a)
