"""Faults a search survives (issue 15, points 4 and 5), each compared with an undisturbed run.

- ``kill -9`` of the search at random points, and inside a checkpoint write (the
  ``DISCOVER_KILL_IN_WRITE`` hook of :mod:`search.checkpoint`), then ``discover resume``: the run
  ends as the uninterrupted one (log, state, cache, winner, hall of fame);
- a checkpoint write that fails (disk full; a real kernel refusal through RLIMIT_FSIZE): one
  line, exit 2, the checkpoints on disk unchanged, and the run continues from them;
- a worker killed mid-evaluation (loky, Dask): the search goes on, its result unchanged;
- an evaluation that hangs: stopped after ``eval_timeout`` (cooperatively, or by stopping its
  worker for work that never returns), scored as a failed child on every backend;
- bounds: state variables, state numbers per model copy and memory per evaluation; a child over
  one is a failed evaluation (NaN and an error), the search runs on.

The slow tests start worker processes or many searches; the others run in this process.
"""

import collections
import concurrent.futures
import errno
import json
import math
import os
import random
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
import torch

from .conftest import ADAMW, TINY
from discover.cli import main
from primitives import parse
from search import SearchConfig, resume, run_search
from search.checkpoint import CHECKPOINT, PREVIOUS, atomic_write, has_checkpoint, load_checkpoint
from search.fitness import SuiteFitness, make_fitness, score_source
from search.limits import EvaluationLost, Limits, run_limited
from search.parallel import _Guarded, _WorkerLost

# the helpers below run in worker processes, which cannot import a test module by name
cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: TINY without the cascade's stages in front (a custom fitness replaces the whole protocol)
PLAIN = {**TINY, "cascade": []}


def _outcome(run_dir, errors: bool = True) -> dict:
    """Everything a finished run decided, without what may vary (seconds, elapsed time; with
    ``errors=False`` only whether a child failed, not its message)."""
    run_dir = Path(run_dir)
    ckpt = json.loads((run_dir / CHECKPOINT).read_text())
    log = [{k: v if k != "error" or errors else v is not None for k, v in
            json.loads(line).items() if k not in ("time", "cpu")}
           for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return {"log": log, "state": ckpt["state"], "cache": ckpt["cache"], "done": ckpt["done"],
            "winner": (run_dir / "best_program.py").read_text().replace(
                f"(run {run_dir.name})", "(run RUN)"),
            "hall_of_fame": (run_dir / "hall_of_fame.csv").read_text()}


def _scores(run_dir) -> list:
    """The log as (eval, hash, fitness, failed?) rows."""
    return [(x["eval"], x["hash"], x["fitness"], x["error"] is not None)
            for x in map(json.loads, (Path(run_dir) / "log.jsonl").read_text().splitlines())]


# ---- picklable fitness functions for custom-fitness runs -----------------------------------------


class Scored:
    """A suite fitness that fails (raises) on some sources: the reference for the faults below."""

    def __init__(self, suite: SuiteFitness, fail=()):
        self.suite, self.fail = suite, frozenset(fail)

    def __call__(self, source: str) -> float:
        if source in self.fail:
            raise RuntimeError("chosen to fail")
        return self.suite(source)


class Hangs(Scored):
    """Never returns on the chosen sources: a sleep in C, deaf to the cooperative deadline."""

    def __call__(self, source: str) -> float:
        if source in self.fail:
            time.sleep(3600)
        return self.suite(source)


class KillsItsWorker(Scored):
    """``kill -9`` of its own worker process on the first evaluation of each chosen source
    (a marker file per source says it happened: the evaluation run again goes through)."""

    def __init__(self, suite, fail, marks):
        super().__init__(suite, fail)
        self.marks = str(marks)

    def __call__(self, source: str) -> float:
        if source in self.fail:
            mark = os.path.join(self.marks, str(sorted(self.fail).index(source)))
            try:
                os.close(os.open(mark, os.O_CREAT | os.O_EXCL))
                os.kill(os.getpid(), signal.SIGKILL)
            except FileExistsError:
                pass
        return self.suite(source)


class Allocates(Scored):
    """Asks for 2 GB more on the chosen sources (what a runaway program does)."""

    def __call__(self, source: str) -> float:
        if source in self.fail:
            torch.empty(2**29)
        return self.suite(source)


def _suite() -> SuiteFitness:
    return make_fitness(parse(ADAMW), PLAIN["tasks"], PLAIN["lrs"], PLAIN["seeds"],
                        PLAIN["num_steps"])


def _trained_sources(run_dir, picks) -> list[str]:
    """Sources of the trained (not cached) children at positions ``picks`` of a run's log."""
    lines = [json.loads(x) for x in (Path(run_dir) / "log.jsonl").read_text().splitlines()]
    trained = [x["source"] for x in lines if not x["cache_hit"]]
    return [trained[i] for i in picks]


# ---- bounds and the cooperative deadline (in this process) ----------------------------------------


def test_an_evaluation_past_eval_timeout_is_a_failed_child():
    endless = SuiteFitness(("quadratic_proxy",), ((1.0, 2.0),), (0.01,), (0,), num_steps=10**7)
    value, _, _, error = run_limited(Limits(eval_timeout=0.2), score_source, (endless, ADAMW))
    assert math.isnan(value) and error == "LimitExceeded: evaluation stopped after 0.2 s " \
                                          "(eval_timeout)"


def test_state_bounds_fail_the_child_not_the_search():
    fitness = _suite()
    ok = run_limited(Limits.from_config(SearchConfig(**PLAIN)), score_source, (fitness, ADAMW))
    assert math.isfinite(ok[0]) and ok[3] == ""  # the defaults let AdamW through
    slots = run_limited(Limits(max_state_slots=1), score_source, (fitness, ADAMW))
    assert math.isnan(slots[0])
    assert slots[3] == ("LimitExceeded: the program has 2 state variables, more than "
                        "max_state_slots = 1")
    numbers = run_limited(Limits(max_state_elements=10), score_source, (fitness, ADAMW))
    assert math.isnan(numbers[0]) and "more than max_state_elements = 10" in numbers[3]


def test_memory_past_the_bound_fails_the_child_and_the_bound_is_lifted_after():
    before = resource.getrlimit(resource.RLIMIT_AS)
    greedy = Allocates(_suite(), fail=[ADAMW])
    value, _, _, error = run_limited(Limits(eval_memory_mb=512), score_source, (greedy, ADAMW))
    assert math.isnan(value) and "can't allocate memory" in error
    assert math.isfinite(run_limited(Limits(), score_source, (greedy, ADAMW))[0])  # unbounded
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert Limits.from_config(SearchConfig(**PLAIN, device="cuda")).eval_memory_mb is None


def test_the_micro_tier_is_bounded_and_a_lost_chunk_fails_its_children():
    from search.cascade import _micro_job
    from search.limits import lost_result

    three = ("def three(w, g, m, v, s, lr=0.1):\n    m = interp(g, m, 0.9)\n"
             "    v = interp(g, v, 0.5)\n    s = interp(g, s, 0.1)\n"
             "    return lr * (m + v + s), m, v, s\n")
    job = ([three, ADAMW], (0.01, 0.1), (0,), 5, 1)  # scored against Adam (2 states) too
    rows, *_ = run_limited(Limits(max_state_slots=2), _micro_job, job)
    assert math.isnan(rows[0][0]) and "3 state variables" in rows[0][1]
    assert math.isfinite(rows[1][0]) and rows[1][1] == ""
    rows, *_ = lost_result(_micro_job, "WorkerLost: its worker died", job)
    assert [error for _, error in rows] == ["WorkerLost: its worker died"] * 2


@pytest.mark.slow
def test_a_search_whose_children_exceed_the_memory_bound_runs_to_its_end(adamw, tmp_path):
    config = SearchConfig(**{**PLAIN, "budget": 8, "eval_memory_mb": 512})
    plain = run_search(config, [adamw], adamw, tmp_path / "plain", progress=False,
                       fitness=Scored(_suite()))
    chosen = _trained_sources(plain.run_dir, [2, 3])
    failing = run_search(config, [adamw], adamw, tmp_path / "failing", progress=False,
                         fitness=Scored(_suite(), chosen))
    greedy = run_search(config, [adamw], adamw, tmp_path / "greedy", progress=False,
                        fitness=Allocates(_suite(), chosen))
    assert greedy.evaluations == 8
    assert _outcome(greedy.run_dir, errors=False) == _outcome(failing.run_dir, errors=False)
    assert _scores(greedy.run_dir) != _scores(plain.run_dir)
    errors = [x["error"] for x in map(json.loads, (greedy.run_dir / "log.jsonl").open())
              if x["error"]]
    assert errors and all("can't allocate memory" in e for e in errors)


# ---- the pool's own logic, on threads standing in for workers -------------------------------------


class _Dies(Exception):
    """Raised by a call to stand for its worker dying."""


class _Threads:
    """A backend runner on threads: a call raising :class:`_Dies` is a call whose worker died;
    ``stop`` gives every running call back to run again, as loky's does."""

    local = False

    def __init__(self, workers=2):
        self.workers, self.stopped = workers, 0
        self.executor = concurrent.futures.ThreadPoolExecutor(workers)

    def capacity(self):
        return self.workers

    def submit(self, fn, args):
        return self.executor.submit(fn, *args)

    def wait(self, handles, timeout):
        return concurrent.futures.wait(handles, timeout, concurrent.futures.FIRST_COMPLETED).done

    def outcome(self, handle):
        try:
            return handle.result()
        except _Dies as exc:
            raise _WorkerLost(str(exc)) from None

    def stop(self, handle, others):
        self.stopped += 1
        return others


_RUNS = collections.Counter()


def _dies(x, times, sleep=0.0):
    """``10 * x``, after its first ``times`` runs died; ``sleep`` seconds first."""
    _RUNS[x] += 1
    time.sleep(sleep)
    if _RUNS[x] <= times:
        raise _Dies("SIGKILL(-9)")
    return 10 * x


def _scored_dies(x, times, sleep=0.0):
    return _dies(x, times, sleep)


_scored_dies.failed = lambda error, x, *rest: ("failed", x, error)


def test_a_call_whose_worker_died_runs_again_alone_and_a_second_death_fails_it():
    _RUNS.clear()
    pool = _Guarded(_Threads(), Limits())
    assert pool(_scored_dies, [(0, 0), (1, 1), (2, 2)]) == [
        0, 10, ("failed", 2, "WorkerLost: its worker died (SIGKILL(-9))")]
    assert _RUNS == {0: 1, 1: 2, 2: 2}
    _RUNS.clear()
    with pytest.raises(EvaluationLost, match="^_dies could not complete: WorkerLost"):
        pool(_dies, [(0, 0), (1, 2)])  # no failed form (the baseline's jobs): one-line error


def test_a_hung_call_is_stopped_and_the_calls_beside_it_run_again(monkeypatch):
    monkeypatch.setattr("search.limits.HANG_GRACE_S", 0.5)  # a call is stopped after 0.6 s
    monkeypatch.setattr("search.parallel.POLL_S", 0.02)
    _RUNS.clear()
    runner = _Threads()
    pool = _Guarded(runner, Limits(eval_timeout=0.1))
    # call 2 hangs; call 3 runs from 0.4 s to 0.8 s, so it is running at the stop (0.6 s)
    got = pool(_scored_dies, [(1, 0, 0.4), (2, 0, 1.5), (3, 0, 0.4)])
    assert got[0] == 10 and got[2] == 30 and runner.stopped == 1
    assert got[1] == ("failed", 2, "LimitExceeded: no result 0.6 s after it started "
                                   "(eval_timeout 0.1 s); its worker was stopped")
    assert _RUNS == {1: 1, 2: 1, 3: 2}  # 3 ran again: its worker was stopped with the hung one


# ---- checkpoint writes that fail or are killed ------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The uninterrupted 16-evaluation run, and the same run stopped after 8."""
    root, adamw = tmp_path_factory.mktemp("runs"), parse(ADAMW)
    run_search(SearchConfig(**{**TINY, "budget": 16}), [adamw], adamw, root / "straight",
               progress=False)
    run_search(SearchConfig(**{**TINY, "budget": 8}), [adamw], adamw, root / "half",
               progress=False)
    return root / "half", root / "straight"


@pytest.fixture
def half(runs, tmp_path):
    """A copy of the run stopped after 8 of 16 evaluations, and the uninterrupted run."""
    shutil.copytree(runs[0], tmp_path / "half")
    return tmp_path / "half", runs[1]


@pytest.mark.parametrize("how", ["disk full", "file too large"])
def test_a_failing_checkpoint_write_is_one_line_and_keeps_the_checkpoints(half, capsys,
                                                                          monkeypatch, how):
    run, straight = half
    kept = {n: (run / n).read_bytes() for n in (CHECKPOINT, PREVIOUS)}
    if how == "disk full":
        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("search.checkpoint.os.fsync", full)
    else:  # the kernel refuses to grow a file past RLIMIT_FSIZE, as it would on a full disk
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(kept[CHECKPOINT]), old_limit[1]))
    capsys.readouterr()
    try:
        code = main(["resume", str(run), "--budget", "16"])
    finally:
        if how != "disk full":
            resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
            signal.signal(signal.SIGXFSZ, old_handler)
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and err[-1].startswith("discover: error: cannot write")
    assert "previous checkpoint is kept" in err[-1]
    assert {n: (run / n).read_bytes() for n in (CHECKPOINT, PREVIOUS)} == kept
    assert not list(run.glob("*.tmp"))
    monkeypatch.undo()
    resume(run, progress=False, budget=16)  # space freed: on from what was kept
    assert _outcome(run) == _outcome(straight)


def _killed_in_write(run_dir: Path, stage: str) -> int:
    """Rewrite ``run_dir``'s checkpoint in a forked child told to die at ``stage``."""
    ckpt = load_checkpoint(run_dir)
    ckpt["elapsed"] += 1.0  # a different checkpoint
    text = json.dumps({"marker": "new"}).encode()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies inside atomic_write
        os.environ["DISCOVER_KILL_IN_WRITE"] = f"{stage}:1"
        try:
            atomic_write(run_dir / CHECKPOINT, lambda fh: fh.write(text), run_dir / PREVIOUS)
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


@pytest.mark.parametrize("stage", ["temp", "previous"])
def test_a_kill_inside_a_checkpoint_write_loses_nothing(half, capsys, stage):
    run, straight = half
    latest, previous = (run / CHECKPOINT).read_bytes(), (run / PREVIOUS).read_bytes()
    status = _killed_in_write(run, stage)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert json.loads((run / (CHECKPOINT + ".tmp")).read_text()) == {"marker": "new"}
    if stage == "temp":  # nothing renamed yet: both checkpoints as they were
        assert (run / CHECKPOINT).read_bytes() == latest
        assert (run / PREVIOUS).read_bytes() == previous
    else:  # between the renames: no latest, the previous is the old latest
        assert not (run / CHECKPOINT).exists() and (run / PREVIOUS).read_bytes() == latest
    capsys.readouterr()
    resume(run, progress=False, budget=16)
    warned = capsys.readouterr().err
    assert ("using checkpoint.prev.json" in warned) == (stage == "previous")
    assert _outcome(run) == _outcome(straight)


# ---- kill -9 at random points of a search: the slow test ----------------------------------------

#: a process that imports the search once, then forks one child per command: each child runs
#: the command line in its own process group with its output in a file, so a life costs a fork,
#: not a fresh import of torch
_ZYGOTE = r"""
import json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot
import discover.cli, search.report
out = sys.stdout.fileno()
for line in sys.stdin:
    cmd = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fd = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.update(cmd["env"])
        code = 70
        try:
            code = discover.cli.main(cmd["argv"])
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 1)
    os.write(out, f"{pid}\n".encode())
    os.write(out, f"{os.waitpid(pid, 0)[1]}\n".encode())
"""


class _Zygote:
    """Runs ``discover`` command lines as forked children of one pre-imported process."""

    def __init__(self, outputs: Path):
        env = {**os.environ, "DISCOVER_OUTPUTS": str(outputs)}
        env.pop("DISCOVER_KILL_IN_WRITE", None)
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.buffer = b""

    def start(self, argv, log: Path, env=None) -> int:
        cmd = {"argv": argv, "log": str(log), "env": env or {}}
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        return int(self._line(timeout=120))

    def status(self, timeout) -> int | None:
        """The wait status of the life in flight, or None if it is still running."""
        line = self._line(timeout)
        return None if line is None else int(line)

    def _line(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("the zygote process ended")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _life(zygote, outputs, name, config, log, kill_after=None, env=None) -> str:
    """One process of a run: started (or resumed), killed after ``kill_after`` seconds unless
    it ends first; how it ended: 'killed', 'exit 0', ..."""
    run = outputs / name
    argv = (["resume", name] if has_checkpoint(run)
            else ["search", "--config", str(config), "--name", name])
    pid = zygote.start(argv, log, env)
    status = zygote.status(kill_after if kill_after is not None else 600)
    if status is None and kill_after is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        status = zygote.status(60)
    assert status is not None, f"{name}: a life did not end (see {log})"
    if os.WIFSIGNALED(status):
        return "killed" if os.WTERMSIG(status) == signal.SIGKILL else f"signal {status}"
    return f"exit {os.WEXITSTATUS(status)}"


def _phase(run_dir) -> str:
    """Where a run was killed, as its checkpoints tell."""
    if not has_checkpoint(run_dir):
        return "before a checkpoint"
    return "finishing" if load_checkpoint(run_dir, warn=False)["done"] else "searching"


#: timed kills of one run before its next life is left to finish
KILLS_PER_RUN = 8


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_ends_as_the_uninterrupted_run(tmp_path):
    """Runs of one config killed (at random moments, and inside checkpoint writes) and resumed
    until each is done, each against the same config run straight through: >= 20 kills."""
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**TINY, "budget": 32}))
    zygote = _Zygote(outputs)
    rng = random.Random(15)
    hooks = ["temp:2", "previous:2", "previous:1", "temp:3"]  # Nth write of a life, stage
    tally = {"runs": 0, "lives": 0, "killed": 0, "in a write": 0,
             "resumed from the previous": 0, "before a checkpoint": 0, "searching": 0,
             "finishing": 0}
    try:
        began = time.monotonic()
        assert _life(zygote, outputs, "straight", config, tmp_path / "straight.log") == "exit 0"
        whole = time.monotonic() - began
        while tally["killed"] < 20 or hooks:
            name = f"run{tally['runs']}"
            tally["runs"] += 1
            how, streak = None, 0
            while how != "exit 0":  # lives until one ends by itself: the run is done
                assert tally["lives"] < 100, tally
                log = tmp_path / f"{name}.{tally['lives']}.log"
                # a run's first life writes a checkpoint per batch: a kill in its Nth write
                # (N <= 3 of 9) always lands there
                first = not has_checkpoint(outputs / name)
                hook = hooks.pop() if hooks and first else None
                if hook is None:
                    # after KILLS_PER_RUN kills a life runs to its end: a phase longer than the
                    # kill window (the finish: funnel, export, novelty) still gets done, on any
                    # machine
                    window = whole / 6 if streak < KILLS_PER_RUN else None
                    how = _life(zygote, outputs, name, config, log,
                                kill_after=None if window is None else rng.uniform(0.0, window))
                    streak += how == "killed"
                else:  # dies at its own hand inside a write, or runs to its end
                    how = _life(zygote, outputs, name, config, log,
                                env={"DISCOVER_KILL_IN_WRITE": hook})
                assert how in ("killed", "exit 0"), log.read_text()[-2000:]
                tally["lives"] += 1
                tally["killed"] += how == "killed"
                tally["in a write"] += how == "killed" and hook is not None
                tally["resumed from the previous"] += "checkpoint.prev.json" in log.read_text()
                if how == "killed":
                    tally[_phase(outputs / name)] += 1
            assert _outcome(outputs / name) == _outcome(outputs / "straight")
    finally:
        zygote.close()
    print(f"kill -9 test: {tally} (uninterrupted run {whole:.1f} s)")
    assert tally["killed"] >= 20 and tally["in a write"] == 4
    assert tally["resumed from the previous"] >= 1


# ---- workers killed or hung mid-evaluation: slow (worker processes) ------------------------------


def _faulty_run(tmp_path, adamw, backend, fault, monkeypatch):
    """A 16-child run in this process (with two chosen children failing, for a hang), and the
    same run with ``fault`` hitting those children on ``backend`` with two workers."""
    monkeypatch.setattr("search.limits.HANG_GRACE_S", 2.0)
    settings = {**PLAIN, "budget": 16, "eval_timeout": 3.0}
    expected = run_search(SearchConfig(**settings), [adamw], adamw, tmp_path / "plain",
                          progress=False, fitness=Scored(_suite()))
    chosen = _trained_sources(expected.run_dir, [2, 5])
    marks = tmp_path / "marks"
    marks.mkdir()
    faulty = {"hang": Hangs(_suite(), chosen),
              "kill": KillsItsWorker(_suite(), chosen, marks)}[fault]
    if fault == "hang":  # the reference: the chosen children fail in this process
        expected = run_search(SearchConfig(**settings), [adamw], adamw, tmp_path / "expected",
                              progress=False, fitness=Scored(_suite(), chosen))
    got = run_search(SearchConfig(**{**settings, "backend": backend, "workers": 2}), [adamw],
                     adamw, tmp_path / backend, progress=False, fitness=faulty)
    return expected, got, chosen, marks


def _needs(backend: str) -> None:
    """Skip without the backend's package; Ray has its own copy of cloudpickle to tell."""
    if backend == "dask":
        pytest.importorskip("distributed")
    elif backend == "ray":
        ray = pytest.importorskip("ray")
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["loky", "dask", "ray"])
def test_a_worker_killed_mid_evaluation_changes_nothing(tmp_path, adamw, backend, monkeypatch):
    _needs(backend)
    expected, got, chosen, marks = _faulty_run(tmp_path, adamw, backend, "kill", monkeypatch)
    assert sorted(os.listdir(marks)) == ["0", "1"]  # both workers were killed mid-evaluation
    assert _outcome(got.run_dir) == _outcome(expected.run_dir)
    assert not any(failed for *_, failed in _scores(got.run_dir))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["loky", "dask", "ray"])
def test_a_hung_evaluation_is_stopped_and_scored_as_failed(tmp_path, adamw, backend,
                                                           monkeypatch):
    _needs(backend)
    expected, got, chosen, _ = _faulty_run(tmp_path, adamw, backend, "hang", monkeypatch)
    assert _outcome(got.run_dir, errors=False) == _outcome(expected.run_dir, errors=False)
    errors = [x["error"] for x in map(json.loads, (got.run_dir / "log.jsonl").open())
              if x["source"] in chosen and not x["cache_hit"]]
    assert len(errors) == 2 and all("eval_timeout 3 s" in e for e in errors)
