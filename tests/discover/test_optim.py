"""discover.optim: every library program as a class by name, create(), the generated docs page."""

from pathlib import Path

import pytest
import torch

import discover
import discover.optim as optim
from discover.library import REGISTRY, UnknownOptimizer


def test_every_library_program_is_a_class_by_name():
    names = optim.class_names()
    assert sorted(names.values()) == sorted(REGISTRY)  # one class per program, names unique
    assert {"Lion", "AdamW", "AdEMAMix", "Muon", "Adam", "SGD"} <= set(names)
    assert set(names) <= set(dir(optim))


def test_imported_class_trains_like_the_engine():
    from discover.optim import AdamW  # noqa: PLC0415 - the import is what is tested

    assert AdamW is discover.optimizer("adamw")
    w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = AdamW([w], lr=0.1)
    w.grad = torch.full_like(w, 2.0)
    opt.step()
    assert torch.allclose(w.detach(), torch.full_like(w, 1 - 0.1 - 0.1 * 0.01), atol=1e-6)


def test_create_takes_library_and_class_names():
    params = [torch.zeros(2)]
    assert type(optim.create("lion", params, lr=1e-4)).__name__ == "Lion"
    assert type(optim.create("Lion", params)).__name__ == "Lion"
    with pytest.raises(UnknownOptimizer, match="did you mean"):
        optim.create("lino", params)
    with pytest.raises(AttributeError, match="no attribute 'NotAnOptimizer'"):
        optim.NotAnOptimizer  # noqa: B018 - the lookup is the test


def test_docs_page_is_the_generated_one():
    page = Path(__file__).resolve().parents[2] / "docs" / "optim.md"
    assert page.read_text() == optim.catalogue_page(), \
        "docs/optim.md is stale: write discover.optim.catalogue_page() to it"
    assert page.read_text().count("\n| `") == len(REGISTRY)


def test_classes_take_the_torch_optim_keyword_arguments():
    """A program verified against a torch.optim class takes that class's keyword arguments."""
    from discover.optim import Adam, SGD  # noqa: PLC0415 - the import is what is tested

    w = torch.nn.Parameter(torch.ones(3))
    assert Adam([w], lr=1e-3, betas=(0.9, 0.99), amsgrad=True).defaults["betas"] == (0.9, 0.99)
    opt = optim.create("sgd", [w], lr=0.1, momentum=0.9, nesterov=True, maximize=True)
    assert type(opt) is SGD and opt.defaults["nesterov"] is True
    with pytest.raises(ValueError, match="Invalid momentum value: -1"):
        SGD([w], momentum=-1)
