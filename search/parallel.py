"""Parallel evaluation on local processes (loky), a Dask cluster or a Ray cluster, guarded.

One function, :func:`evaluation_pool`, gives a ``pool(fn, argument_tuples) -> list`` that keeps
its workers for the whole run (DEAP's ``toolbox.map`` hook). Only picklable things cross to the
workers (program source, a :class:`search.fitness.SuiteFitness`); results come back in
submission order, so a run does not depend on how many workers there are.

- ``loky`` (default): ``workers`` local processes (joblib's loky executor); ``workers=1``
  evaluates in this process.
- ``dask``: ``distributed.Client(address)``, or a local cluster on 127.0.0.1 with ``workers``
  processes when no address is given.
- ``ray``: ``ray.init(address)``, when ray is installed.

Every call runs inside :func:`search.limits.run_limited` (time, state and memory bounds). The pool
survives its workers, because an evaluation's result depends only on its arguments and so can
be computed again:

- a worker that dies (``kill -9``, a crash, the OOM killer) loses the calls it was running; they
  run again, alone (Dask and Ray first retry by themselves). A call whose worker dies again is
  scored by ``fn.failed(error, *args)`` (:func:`search.limits.lost_result`);
- a call still running :meth:`~search.limits.Limits.hard_timeout` seconds after it started (it
  never came back to its cooperative deadline check) has its worker stopped and is scored by
  ``fn.failed``; calls that shared the stopped worker run again. With ``workers=1`` evaluations
  run in this process, where only the cooperative deadline applies.

Example::

    >>> with evaluation_pool("loky", workers=1) as pool:
    ...     pool(divmod, [(7, 2), (9, 4)])
    [(3, 1), (2, 1)]
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import shutil
import tempfile
import time
from typing import Callable, Iterator, Sequence

from .config import BACKENDS, ConfigError
from .limits import Limits, lost_result, run_limited

__all__ = ["evaluation_pool", "Pool"]

Pool = Callable[[Callable, Sequence[tuple]], list]

#: a call whose worker died is run again alone this many times before it is scored as failed
RETRIES = 1
#: seconds a submitted call may wait to start (workers starting or restarting) before it is
#: stopped like a hung one
START_TIMEOUT_S = 600.0
#: seconds between looks at the running calls' clocks
POLL_S = 0.25


@contextlib.contextmanager
def evaluation_pool(backend: str = "loky", workers: int = 2, address: str | None = None,
                    limits: Limits | None = None) -> Iterator[Pool]:
    """A context yielding ``pool(fn, [args, ...]) -> [fn(*args), ...]`` on ``backend``, each
    call under ``limits`` (default: none)."""
    limits = limits if limits is not None else Limits()
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose loky, dask or ray")
    if backend == "loky" and workers == 1:
        yield lambda fn, items: [run_limited(limits, fn, tuple(args)) for args in items]
        return
    runner = {"loky": _Loky, "dask": _Dask, "ray": _Ray}[backend](workers, address)
    with runner:
        pool = _Guarded(runner, limits)
        try:
            yield pool
        finally:
            pool.close()


class _WorkerLost(Exception):
    """A call's worker died; ``retried``: the backend already ran it again by itself."""

    def __init__(self, why: str, retried: bool = False):
        super().__init__(why)
        self.retried = retried


class _Guarded:
    """``pool(fn, items)`` over a backend runner: at most ``capacity`` calls in flight, lost
    calls run again alone, hung calls stopped.

    A call's clock starts when it starts in its worker (it touches a file in :attr:`marks`) on a
    local backend, when it is submitted on a remote one (whose files are elsewhere).
    """

    def __init__(self, runner, limits: Limits):
        self.runner, self.limits = runner, limits
        self.marks = tempfile.mkdtemp(prefix="discover-pool-") if runner.local else None
        self.submitted = 0

    def close(self) -> None:
        if self.marks is not None:
            shutil.rmtree(self.marks, ignore_errors=True)

    def __call__(self, fn: Callable, items: Sequence[tuple]) -> list:
        items = [tuple(args) for args in items]
        results: list = [None] * len(items)
        fresh = collections.deque(range(len(items)))
        alone = collections.deque()  # calls whose worker died: run one at a time
        deaths = [0] * len(items)
        running: dict = {}  # handle -> (index, mark file or None, submitted at)
        capacity = max(1, self.runner.capacity())
        hard = self.limits.hard_timeout()
        while fresh or alone or running:
            if alone and not running:
                self._submit(fn, items, alone.popleft(), running)
            while fresh and not alone and len(running) < capacity:
                self._submit(fn, items, fresh.popleft(), running)
            for handle in self.runner.wait(list(running), None if hard is None else POLL_S):
                index, mark, _ = running.pop(handle)
                _remove(mark)
                try:
                    results[index] = self.runner.outcome(handle)
                except _WorkerLost as exc:
                    deaths[index] += 1
                    if exc.retried or deaths[index] > RETRIES:
                        results[index] = lost_result(fn, f"WorkerLost: its worker died "
                                                         f"({exc})", items[index])
                    else:
                        alone.append(index)
            if hard is not None:
                self._stop_hung(fn, items, hard, results, running, fresh)
        return results

    def _submit(self, fn, items, index, running) -> None:
        mark = None
        if self.marks is not None:
            self.submitted += 1
            mark = os.path.join(self.marks, str(self.submitted))
        handle = self.runner.submit(run_limited, (self.limits, fn, items[index], mark))
        running[handle] = (index, mark, time.time())

    def _stop_hung(self, fn, items, hard, results, running, fresh) -> None:
        for handle in list(running):
            if handle not in running:  # ran again after an earlier stop
                continue
            index, mark, submitted = running[handle]
            why = self._overdue(hard, mark, submitted)
            if why is None:
                continue
            del running[handle]
            _remove(mark)
            results[index] = lost_result(fn, f"LimitExceeded: {why}; its worker was stopped",
                                         items[index])
            for other in self.runner.stop(handle, list(running)):
                other_index, other_mark, _ = running.pop(other)
                _remove(other_mark)
                fresh.appendleft(other_index)  # run again: not its fault

    def _overdue(self, hard: float, mark: str | None, submitted: float) -> str | None:
        """Why a call must be stopped now (None: it may go on)."""
        now = time.time()
        try:
            started = submitted if mark is None else os.stat(mark).st_mtime
        except FileNotFoundError:  # not started yet
            if now - submitted > START_TIMEOUT_S:
                return f"not started {START_TIMEOUT_S:g} s after it was submitted"
            return None
        if now - started >= hard:
            return (f"no result {hard:g} s after it started (eval_timeout "
                    f"{self.limits.eval_timeout:g} s)")
        return None


def _remove(path: str | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)


# ---- backends: submit, wait, outcome, stop ------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class _Loky:
    """joblib's loky process executor; a dead worker breaks it, so it is made again."""

    local = True

    def __init__(self, workers: int, address: str | None):
        self.workers, self.executor = workers, None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.executor is not None:
            self.executor.shutdown(wait=exc_info[0] is None, kill_workers=exc_info[0] is not None)
            self.executor = None

    def capacity(self) -> int:
        return self.workers

    def _start(self) -> None:
        from joblib.externals.loky import ProcessPoolExecutor  # noqa: PLC0415

        threads = str(max((os.cpu_count() or 1) // self.workers, 1))  # as joblib sets them
        env = {var: os.environ.get(var, threads) for var in (
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
        self.executor = ProcessPoolExecutor(max_workers=self.workers, env=env)

    def submit(self, fn, args):
        if self.executor is None:
            self._start()
        return self.executor.submit(fn, *args)

    def wait(self, handles, timeout):
        return concurrent.futures.wait(handles, timeout,
                                       return_when=concurrent.futures.FIRST_COMPLETED).done

    def outcome(self, handle):
        from joblib.externals.loky.process_executor import (  # noqa: PLC0415
            BrokenProcessPool, TerminatedWorkerError)

        try:
            return handle.result()
        except BrokenProcessPool as exc:  # the executor is unusable now
            if self.executor is not None:
                self.executor.shutdown(wait=False, kill_workers=True)
                self.executor = None
            if isinstance(exc, TerminatedWorkerError):
                raise _WorkerLost(_exit_codes(exc)) from None
            raise  # a call that cannot be sent (unpicklable arguments): a bug, not a fault

    def stop(self, handle, others):
        """Kill every worker (loky cannot say which runs what): the others run again."""
        if self.executor is not None:  # else it broke meanwhile, killing them already
            self.executor.shutdown(wait=False, kill_workers=True)
            self.executor = None
        return others


def _exit_codes(exc: BaseException) -> str:
    text = str(exc)
    at = text.find("The exit codes of the workers are")
    return text[at:].splitlines()[0].rstrip(".") if at >= 0 else _first_line(exc)


class _Dask:
    """A ``distributed`` client. Its own local cluster hands a call whose worker died straight
    back (``KilledWorker``, allowed-failures 0), so the pool reruns it alone as with loky; a
    remote scheduler first reruns it by itself (its allowed-failures, 3 by default)."""

    def __init__(self, workers: int, address: str | None):
        self.workers, self.address, self.local = workers, address, not address
        self.stack = contextlib.ExitStack()

    def __enter__(self):
        try:
            import distributed  # noqa: PLC0415 - optional dependency
        except ImportError:
            raise ConfigError("backend 'dask' needs dask.distributed: pip install "
                              "'dask[distributed]'") from None
        self.distributed = distributed
        if self.address:
            try:
                self.client = self.stack.enter_context(distributed.Client(self.address,
                                                                          timeout=30))
            except OSError as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {self.address}: "
                                  f"{exc}") from None
        else:
            import dask  # noqa: PLC0415

            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                cluster = self.stack.enter_context(distributed.LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None))
            self.client = self.stack.enter_context(distributed.Client(cluster))
        return self

    def __exit__(self, *exc_info):
        self.stack.close()

    def capacity(self) -> int:
        return self.workers if self.local else sum(self.client.nthreads().values())

    def submit(self, fn, args):
        return self.client.submit(fn, *args, pure=False)

    def wait(self, handles, timeout):
        try:
            return self.distributed.wait(handles, timeout=timeout,
                                         return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return set()

    def outcome(self, handle):
        try:
            return handle.result()
        except self.distributed.KilledWorker as exc:
            raise _WorkerLost("dask: KilledWorker", retried=not self.local) from None
        finally:  # else the scheduler keeps the result, and computes it again if its worker dies
            handle.release()

    def stop(self, handle, others):
        """Cancel the call and restart the worker running it; the others keep running."""
        workers = [w for w, keys in self.client.processing().items() if handle.key in keys]
        handle.cancel()
        if workers:  # else it finished or left its worker in the meantime: nothing to stop
            # a worker slow to come back is not waited for: the others go on meanwhile
            self.client.restart_workers(workers, raise_for_error=False)
        return []


class _Ray:
    """Ray tasks (which Ray retries once itself when their worker dies); ``ray.cancel(force)``
    kills the worker of a hung call."""

    def __init__(self, workers: int, address: str | None):
        self.workers, self.address, self.local = workers, address, not address

    def __enter__(self):
        try:
            import ray  # noqa: PLC0415 - optional dependency
        except ImportError:
            raise ConfigError("backend 'ray' needs ray: pip install 'ray[default]' "
                              "(or use backend loky or dask)") from None
        self.ray = ray
        ray.init(address=self.address, ignore_reinit_error=True)
        self.remote = ray.remote(max_retries=1)(_call)
        return self

    def __exit__(self, *exc_info):
        self.ray.shutdown()

    def capacity(self) -> int:
        return self.workers

    def submit(self, fn, args):
        return self.remote.remote(fn, args)

    def wait(self, handles, timeout):
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return set(done)

    def outcome(self, handle):
        try:
            return self.ray.get(handle)
        except (self.ray.exceptions.WorkerCrashedError,
                self.ray.exceptions.TaskCancelledError) as exc:
            raise _WorkerLost(f"ray: {type(exc).__name__}", retried=True) from None

    def stop(self, handle, others):
        self.ray.cancel(handle, force=True)
        return []


def _call(fn, args):
    return fn(*args)
