"""Bounds on one evaluation: time, state size, memory. Going past one is a failed evaluation.

A search trains thousands of machine-made programs. One that loops for ever, builds a huge state
or allocates without end must cost one failed child (a NaN fitness with an error string, like any
program that raises), never a stuck or crashed search. :class:`Limits` holds the bounds of a run
(from its :class:`~search.config.SearchConfig`); :func:`run_limited` is what every evaluation
runs inside, in the worker:

- ``eval_timeout``: a cooperative deadline, checked before every training step
  (:func:`tasks.guard.check_step`); work that never comes back to Python (one op that never
  returns) is stopped by the pool instead (:mod:`search.parallel` restarts the worker after
  :meth:`Limits.hard_timeout`), scored by the function's failed form
  (``fn.failed(error, *args)``, :func:`lost_result`);
- ``max_state_slots`` / ``max_state_elements``: state variables, and state numbers per model
  copy, checked once the state is made (:func:`tasks.guard.check_state`);
- ``eval_memory_mb``: the address space one evaluation may add to its process (``RLIMIT_AS``,
  Linux): an allocation past it fails inside the evaluation (torch: "can't allocate memory"),
  which the evaluation reports as its error. Not on a GPU (CUDA reserves huge address ranges),
  not where ``RLIMIT_AS`` cannot be set (the bound is then off). Threads of one process that
  evaluate at once share one bound.

Example::

    >>> from tasks.guard import check_state
    >>> run_limited(Limits(max_state_slots=1), check_state, ({"m": [], "v": []}, 1))
    Traceback (most recent call last):
    ...
    tasks.guard.LimitExceeded: the program has 2 state variables, more than max_state_slots = 1
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from primitives.errors import UserError
from tasks.guard import LimitExceeded, limited

try:
    import resource
except ImportError:  # not POSIX: no memory bound
    resource = None

__all__ = ["Limits", "LimitExceeded", "EvaluationLost", "run_limited", "memory_bound",
           "lost_result", "HANG_GRACE_S"]

#: seconds past ``eval_timeout`` (at least; a quarter of it for long timeouts) before the pool
#: stops a worker whose evaluation never came back to its cooperative deadline check
HANG_GRACE_S = 10.0


class EvaluationLost(UserError):
    """A call the pool could not complete (its worker hung or died) and that has no ``failed``
    form to score it by; one line."""


@dataclass(frozen=True)
class Limits:
    """The bounds of one evaluation (None: unbounded); picklable, sent with every call."""

    eval_timeout: float | None = None
    eval_memory_mb: int | None = None
    max_state_slots: int | None = None
    max_state_elements: int | None = None

    @classmethod
    def from_config(cls, cfg) -> "Limits":
        """The bounds a :class:`~search.config.SearchConfig` sets (memory only on the CPU)."""
        return cls(cfg.eval_timeout, cfg.eval_memory_mb if cfg.device == "cpu" else None,
                   cfg.max_state_slots, cfg.max_state_elements)

    def hard_timeout(self) -> float | None:
        """Seconds after which the pool stops a call that has not come back (None: never)."""
        if self.eval_timeout is None:
            return None
        return self.eval_timeout + max(HANG_GRACE_S, self.eval_timeout / 4)


def run_limited(limits: Limits, fn: Callable, args: tuple, started: str | None = None):
    """``fn(*args)`` under ``limits``: the worker-side entry point of every pooled call. A
    ``started`` path is touched first: the pool's clock for the call starts then, not while
    the call waited for a worker (or for one to restart)."""
    if started is not None:
        with open(started, "w"):
            pass
    with memory_bound(limits.eval_memory_mb), limited(
            limits.eval_timeout, limits.max_state_slots, limits.max_state_elements):
        return fn(*args)


def lost_result(fn: Callable, error: str, args: tuple = ()):
    """What a call ``fn(*args)`` whose worker hung or died returns: ``fn.failed(error, *args)``
    (e.g. :func:`search.fitness.score_source`: a NaN fitness), else :class:`EvaluationLost`."""
    failed = getattr(fn, "failed", None)
    if failed is None:
        raise EvaluationLost(f"{getattr(fn, '__name__', 'a call')} could not complete: {error}")
    return failed(error, *args)


# ---- the memory bound -------------------------------------------------------------------------

_MEMORY = threading.Lock()
_ACTIVE = [0, None]  # evaluations inside memory_bound in this process; the limit they replaced


@contextlib.contextmanager
def memory_bound(megabytes: int | None) -> Iterator[None]:
    """Inside, this process may grow its address space by at most ``megabytes`` (RLIMIT_AS);
    the first evaluation to enter sets it, the last to leave restores the previous limit."""
    if megabytes is None or resource is None or not hasattr(resource, "RLIMIT_AS"):
        yield
        return
    with _MEMORY:
        if _ACTIVE[0] == 0:
            _ACTIVE[1] = _set_address_limit(megabytes)
        _ACTIVE[0] += 1
    try:
        yield
    finally:
        with _MEMORY:
            _ACTIVE[0] -= 1
            if _ACTIVE[0] == 0 and _ACTIVE[1] is not None:
                resource.setrlimit(resource.RLIMIT_AS, _ACTIVE[1])
                _ACTIVE[1] = None


def _set_address_limit(megabytes: int):
    """Lower the soft RLIMIT_AS to the current size plus ``megabytes``; the old limits (None if
    it could not be set: then there is no bound)."""
    try:
        with open("/proc/self/statm") as fh:
            size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        old = resource.getrlimit(resource.RLIMIT_AS)
        soft, hard = old
        want = size + megabytes * 2**20
        if soft != resource.RLIM_INFINITY and soft <= want:
            return None  # already bounded as tightly
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))
        return old
    except (OSError, ValueError):
        return None
