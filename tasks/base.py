"""The task interface: a small training problem an update rule is scored on.

A :class:`Task` says how to initialise parameters from a seed, the loss on a batch, the batch for a
step, how many steps to train and a validation metric (lower is better). Everything is functional
(parameters are a ``dict[str, Tensor]`` passed in, never stored), so the evaluation protocol can run
K copies at once under ``torch.func.vmap`` (see :mod:`tasks.protocol`).

A :class:`TaskFamily` is the set of constructors of one file (synthetic, vision, language, ...): one
constructor per kind of task, each taking a size (``"proxy"``, ``"validation"``, ``"test"``).

Randomness is explicit. Every random draw (initial parameters, minibatches, a task's fixed data
such as a rotation) comes from a :func:`generator` seeded by a hash of named parts, e.g.
``(task.name, "init", seed)``, so a number never depends on call order, process or worker count,
and the CPU and CUDA runs of a task start from the same parameters and see the same batches.

Example::

    >>> from tasks.synthetic import quadratic
    >>> task = quadratic("proxy")
    >>> params = task.init(seed=0)
    >>> float(task.loss(params, task.batches(seed=0, step=0))) > 0
    True
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, replace
from typing import Callable, ClassVar, Mapping

import torch

from primitives.errors import InvalidValue

__all__ = ["SIZES", "Task", "TaskFamily", "Batch", "Params", "derive_seed", "generator",
           "resolve_device", "check_size", "cross_entropy"]

#: the sizes every family provides: what the search trains on, funnel selection, held-out scoring
SIZES = ("proxy", "validation", "test")

Params = dict  # name -> Tensor
Batch = tuple  # a tuple of tensors (possibly empty for deterministic full-batch problems)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from the string forms of ``parts`` (stable across processes, unlike hash())."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def generator(*parts: object) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by :func:`derive_seed` of ``parts``.

    Draws are made on the CPU and then moved, so every device sees the same numbers.
    """
    g = torch.Generator()
    g.manual_seed(derive_seed(*parts))
    return g


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValue(f"device {str(device)!r} asked for, but CUDA is not available; "
                         "use device='cpu' or 'auto'")
    return device


def check_size(size: str, configs: Mapping[str, object], kind: str) -> None:
    """One-line error for an unknown size."""
    if size not in configs:
        raise InvalidValue(f"{kind}: unknown size {size!r}; choose one of {list(configs)}")


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean ``logsumexp(logits) - logits[target]`` over all leading dims.

    The same number as ``F.cross_entropy``; written out because under vmap ``F.cross_entropy``
    runs a Python decomposition that costs twice as much per step.
    """
    # shifted by the row maximum first: with huge logits (a rule that blows the weights up),
    # ``logsumexp(x) - x[t]`` cancels catastrophically in float32 (all logits at -1e8 give 0,
    # not log(10)); the shift is exact and leaves the value and gradient unchanged otherwise
    logits = logits - logits.detach().amax(-1, keepdim=True)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logits.logsumexp(-1) - picked).mean()


@dataclass(frozen=True)
class Task(abc.ABC):
    """A training problem. Subclasses are frozen dataclasses whose fields are the configuration.

    Attributes:
        name: unique across all suites; it seeds the task's randomness, so renaming a task
            changes its numbers.
        size: ``"proxy"``, ``"validation"`` or ``"test"``.
        num_steps: the training budget in steps (one gradient per step).
    """

    #: the file the task lives in (``"synthetic"``, ``"vision"``, ``"language"``)
    family: ClassVar[str] = ""

    name: str
    size: str
    num_steps: int

    @abc.abstractmethod
    def init(self, seed: int, device: str | torch.device = "cpu",
             dtype: torch.dtype = torch.float32) -> Params:
        """Initial parameters for ``seed``: name -> tensor."""

    @abc.abstractmethod
    def loss(self, params: Params, batch: Batch) -> torch.Tensor:
        """The 0-d training loss of ``params`` on ``batch``: functional, so it works under vmap.

        It may be a surrogate (an RL task's policy loss); only its gradient drives training.
        """

    @abc.abstractmethod
    def batches(self, seed: int, step: int, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> Batch:
        """The batch of training step ``step`` (0-based) for run ``seed``; deterministic."""

    @abc.abstractmethod
    def validation_batch(self, device: str | torch.device = "cpu",
                         dtype: torch.dtype = torch.float32) -> Batch:
        """The fixed data the validation metric is computed on (empty if none is needed)."""

    def metric(self, params: Params, batch: Batch) -> torch.Tensor:
        """The 0-d validation metric (lower is better) on ``batch``; functional like :meth:`loss`.

        Defaults to the loss; tasks with a noisy training loss return the exact objective.
        """
        return self.loss(params, batch)

    def validate(self, params: Params) -> float:
        """The validation metric of ``params`` (lower is better); NaN/inf pass through."""
        ref = next(iter(params.values()))
        with torch.no_grad():
            return float(self.metric(params, self.validation_batch(ref.device, ref.dtype)))

    def with_steps(self, num_steps: int) -> "Task":
        """A copy with another budget (same name and data: for short tests and smoke runs)."""
        return replace(self, num_steps=num_steps)


@dataclass(frozen=True)
class TaskFamily:
    """The constructors of one family file: kind -> ``constructor(size) -> Task``.

    Example::

        >>> from tasks.synthetic import FAMILY
        >>> [t.name for t in FAMILY.tasks("proxy")][:2]
        ['quadratic_proxy', 'rosenbrock_proxy']
    """

    name: str
    constructors: Mapping[str, Callable[[str], Task]]

    def make(self, kind: str, size: str = "proxy") -> Task:
        if kind not in self.constructors:
            raise InvalidValue(f"family {self.name!r} has no task {kind!r}; "
                             f"choose one of {list(self.constructors)}")
        return self.constructors[kind](size)

    def tasks(self, size: str = "proxy") -> tuple[Task, ...]:
        """One task of every kind at ``size``."""
        return tuple(make(size) for make in self.constructors.values())
