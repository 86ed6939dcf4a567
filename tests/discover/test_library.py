"""The library registry: every entry parses, prints back, cites its paper, and maps exactly its
program's hyperparameters (with the same defaults) onto its reference."""

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest
import torch

from discover import library
from discover.library import REGISTRY, Entry, Reference, UnknownOptimizer, get, names
from discover.verify import SHAPES
from primitives import parse, to_source

NAMES = list(REGISTRY)

REQUIRED = {"sgd", "adam", "amsgrad", "adamw", "nadam", "radam", "adamax", "adagrad", "adadelta",
            "rmsprop", "rmsprop_centered", "rmsprop_momentum", "rprop", "asgd", "adafactor",
            "muon", "lion"}


class _Recording(dict):
    """A dict that remembers which keys were read."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def _params(entry):
    return [torch.zeros(s, dtype=torch.float64, requires_grad=True)
            for s in SHAPES if entry.supports_ndim(len(s))]


def _available(ref):
    if ref.import_name and importlib.util.find_spec(ref.import_name) is None:
        pytest.skip(f"pip install {ref.requires}")


def test_required_entries_present():
    assert REQUIRED <= set(REGISTRY)
    assert names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_parses_and_round_trips(name):
    entry = REGISTRY[name]
    program = entry.program
    assert program.name == name
    assert parse(to_source(program)) == program
    assert program is entry.program  # parsed once


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    entry = REGISTRY[name]
    assert entry.name == name and name == name.lower()
    assert entry.paper and entry.authors and entry.references and entry.primary.label
    assert isinstance(entry.year, int) and 1950 <= entry.year <= 2030
    assert entry.program.doc, "the docstring states the update rule and the paper"
    assert entry.settings[0] == {}
    assert len(entry.settings) >= 3 and all(entry.settings[1:]), "defaults + 2 other settings"
    for ref in entry.references:
        assert ref.tolerance > 0
        if ref.tolerance > 1e-10:
            assert ref.tolerance_note, "a looser tolerance says why"


@pytest.mark.parametrize("name", NAMES)
def test_reference_reads_exactly_the_program_hyperparameters(name):
    entry = REGISTRY[name]
    hyper = entry.program.hyperparameters
    for ref in entry.references:
        _available(ref)
        recorded = _Recording(hyper)
        optimizer = ref.make(_params(entry), recorded)
        assert isinstance(optimizer, torch.optim.Optimizer)
        assert recorded.read == set(hyper), ref.label


def _same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        return len(ours) == len(theirs) and all(_same(a, b) for a, b in zip(ours, theirs))
    return theirs is None or ours == theirs  # None: the reference derives it (e.g. dtype eps)


@pytest.mark.parametrize("name", NAMES)
def test_program_defaults_are_the_reference_defaults(name):
    entry = REGISTRY[name]
    for ref in entry.references:
        _available(ref)
        optimizer = ref.make(_params(entry), dict(entry.program.hyperparameters))
        signature = inspect.signature(type(optimizer).__init__)
        for key, param in signature.parameters.items():
            if key in entry.reference_overrides or key not in optimizer.defaults:
                continue
            if param.default is inspect.Parameter.empty:
                continue
            assert _same(optimizer.defaults[key], param.default), (
                f"{ref.label}: {key}={optimizer.defaults[key]!r} but the reference's default "
                f"is {param.default!r}")


def test_get_unknown_lists_close_matches():
    with pytest.raises(UnknownOptimizer) as info:
        get("adamm")
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert "adamm" in message and "adam" in message and "did you mean" in message
    assert get("adam") is REGISTRY["adam"]


def test_families_are_alphabetical_and_every_family_file_is_registered():
    modules = [m.__name__ for m in library._FAMILIES]
    assert modules == sorted(modules)
    root = Path(library.__file__).parent
    files = {f"discover.library.{p.parent.name}.{p.stem}"
             for p in root.glob("*/*.py") if p.stem != "__init__"}
    assert set(modules) == files


@pytest.mark.parametrize("name", NAMES)
def test_family_and_path_name_the_file_that_holds_the_entry(name):
    entry = REGISTRY[name]
    part, family = entry.family.split(".")
    assert part in ("elementwise", "reductions", "matrix")
    path = Path(library.__file__).parents[2] / entry.path
    assert path.name == f"{family}.py" and path.is_file()
    module = importlib.import_module(f"discover.library.{entry.family}")
    assert module.__file__ == str(path)
    assert name in [e.name for e in module.ENTRIES]


def test_duplicate_names_are_rejected():
    with pytest.raises(RuntimeError, match="duplicate library entry 'adam'"):
        library._build((library.adam, library.adam))


def _entry(**overrides):
    adam = get("adam")
    fields = dict(name="adam", source=adam.source, paper="p", authors="a", year=2000,
                  references=(Reference("r", adam.primary.make),))
    return Entry(**{**fields, **overrides})


def test_entry_validation():
    assert _entry().program == get("adam").program
    with pytest.raises(ValueError, match="called 'adam'"):
        _entry(name="adam2")
    with pytest.raises(ValueError, match="snake_case"):
        _entry(name="Adam")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        _entry(settings=({}, {"lrr": 1.0}))
    with pytest.raises(ValueError, match="start with"):
        _entry(settings=({"lr": 0.1},))
    with pytest.raises(ValueError, match="not a state"):
        _entry(compare_state=(("nope", "exp_avg"),))
    with pytest.raises(ValueError, match="non-empty tuple of Reference"):
        _entry(references=())
    with pytest.raises(ValueError, match="line"):
        _entry(source="def adam(w, g, lr=0.1):\n    return lr * g +\n")


def test_every_library_program_passes_check_valid():
    """A verified program is a valid start for a search (Shampoo's and GaLore's matrix states
    included)."""
    from primitives import is_valid

    assert [n for n, e in REGISTRY.items() if not is_valid(e.program)] == []
