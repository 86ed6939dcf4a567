"""Limits one evaluation is held to, checked from inside its training loop.

A search scores thousands of machine-made programs; one that runs for ever or builds a huge
state must become a failed evaluation, not a stuck or crashed search. The search sets the limits
around each evaluation (:func:`limited`, from :mod:`search.limits`, which adds the process-level
memory bound and the hard stop of a worker that never returns); the training loop of
:mod:`tasks.protocol` checks them: :func:`check_state` once the program's state is made,
:func:`check_step` before every step (a cooperative deadline: Python code between steps, so a
single op that never returns needs the hard stop). Outside :func:`limited` both are no-ops.

The limits are per thread (a Dask worker runs evaluations in threads) and nest: an inner
:func:`limited` replaces the outer one until it ends.

Example::

    >>> with limited(max_state_slots=1):
    ...     check_state({"m": [], "v": []}, copies=1)
    Traceback (most recent call last):
    ...
    tasks.guard.LimitExceeded: the program has 2 state variables, more than max_state_slots = 1
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from primitives.errors import InvalidValue

__all__ = ["LimitExceeded", "limited", "check_step", "check_state"]


class LimitExceeded(InvalidValue):
    """An evaluation went past a limit (time, state size); one line. A failed evaluation."""


@dataclass(frozen=True)
class _Limits:
    deadline: float | None  # time.monotonic() value
    seconds: float | None
    max_state_slots: int | None
    max_state_elements: int | None


_LOCAL = threading.local()


@contextlib.contextmanager
def limited(seconds: float | None = None, max_state_slots: int | None = None,
            max_state_elements: int | None = None) -> Iterator[None]:
    """Inside: :func:`check_step` raises :class:`LimitExceeded` after ``seconds``, and
    :func:`check_state` for more than ``max_state_slots`` state variables or more than
    ``max_state_elements`` state numbers per model copy. None: no limit."""
    deadline = None if seconds is None else time.monotonic() + seconds
    outer = getattr(_LOCAL, "limits", None)
    _LOCAL.limits = _Limits(deadline, seconds, max_state_slots, max_state_elements)
    try:
        yield
    finally:
        _LOCAL.limits = outer


def check_step() -> None:
    """Raise :class:`LimitExceeded` once the evaluation's time is up."""
    limits = getattr(_LOCAL, "limits", None)
    if limits is not None and limits.deadline is not None and time.monotonic() > limits.deadline:
        raise LimitExceeded(f"evaluation stopped after {limits.seconds:g} s (eval_timeout)")


def check_state(state: Mapping[str, Sequence], copies: int) -> None:
    """Raise :class:`LimitExceeded` if ``state`` (name -> tensors holding ``copies`` model
    copies) has too many variables or numbers per copy."""
    limits = getattr(_LOCAL, "limits", None)
    if limits is None:
        return
    if limits.max_state_slots is not None and len(state) > limits.max_state_slots:
        raise LimitExceeded(f"the program has {len(state)} state variables, more than "
                            f"max_state_slots = {limits.max_state_slots}")
    if limits.max_state_elements is not None:
        numbers = sum(t.numel() for tensors in state.values() for t in tensors) // max(copies, 1)
        if numbers > limits.max_state_elements:
            raise LimitExceeded(f"the program's state holds {numbers:,} numbers per model copy, "
                                f"more than max_state_elements = {limits.max_state_elements:,}")
