"""verify: every library program matches its references; wrong programs fail; a missing
reference package is "skipped", never "passed"."""

import dataclasses
import importlib.util
import math
import sys

import pytest
import torch

from discover.library import REGISTRY, get
from discover.library.elementwise.adam import ADAM
from discover.library.elementwise.sgd import ASGD
from discover.verify import format_table, verify, verify_all

STEPS = 60  # enough for bias corrections, RAdam's rectification and Rprop's growth to act


def _missing_package(entry):
    return [r.requires for r in entry.references
            if r.import_name and importlib.util.find_spec(r.import_name) is None]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_library_program_matches_its_references(name):
    entry = REGISTRY[name]
    result = verify(entry, steps=STEPS)
    if _missing_package(entry):
        assert result.status == "skipped" and "pip install" in result.note
        return
    assert result.status == "passed", result.note
    assert result.max_rel <= entry.primary.tolerance
    assert len(result.details) == len(entry.settings) * len(entry.references)
    assert all(d.status == "passed" for d in result.details)


def test_wrong_bias_correction_fails():
    wrong = ADAM.replace("bc2 = 1 - beta2 ** t", "bc2 = 1 - beta1 ** t")
    assert wrong != ADAM
    result = verify(dataclasses.replace(get("adam"), source=wrong), steps=20)
    assert result.status == "failed"
    assert result.max_rel > 1e-6
    assert "worst at step" in result.note


def test_diverging_program_fails():
    wrong = ADAM.replace("(sqrt(v) / sqrt(bc2) + eps)", "(sqrt(v) - sqrt(v))")
    result = verify(dataclasses.replace(get("adam"), source=wrong), steps=5)
    assert result.status == "failed"
    assert "non-finite values at step 1" in result.note


def test_wrong_unobserved_state_fails():
    """ASGD's average never feeds back into the weights; compare_state still catches it."""
    wrong = ASGD.replace("ax = ax + (w - step - ax) * mu", "ax = ax + (w - ax) * mu")
    assert wrong != ASGD
    result = verify(dataclasses.replace(get("asgd"), source=wrong), steps=30)
    assert result.status == "failed"
    assert "ax(" in result.note


def test_missing_package_is_skipped_not_passed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorch_optimizer", None)  # makes the import fail
    result = verify(get("lion"), steps=5)
    assert result.status == "skipped"
    assert "pip install pytorch-optimizer" in result.note
    assert math.isnan(result.max_rel)
    assert "skipped" in format_table([result])


def test_crashing_reference_is_an_error():
    def broken(params, hyper):
        raise ValueError("no such option\n(second line)")

    sgd = get("sgd")
    broken_ref = dataclasses.replace(sgd.primary, make=broken)
    result = verify(dataclasses.replace(sgd, references=(broken_ref,)), steps=3)
    assert result.status == "error"
    assert "ValueError: no such option (second line)" in result.note


def test_settings_override_and_determinism():
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    a = verify(get("adam"), steps=10, seed=3, settings=[{"lr": 0.1}])
    assert (torch.get_default_dtype(), torch.get_num_threads()) == (dtype, threads)  # restored
    b = verify(get("adam"), steps=10, seed=3, settings=[{"lr": 0.1}])
    assert [d.setting for d in a.details] == [{"lr": 0.1}]
    assert a == b
    with pytest.raises(ValueError, match="steps"):
        verify(get("adam"), steps=0)
    with pytest.raises(ValueError, match="settings"):
        verify(get("adam"), settings=[])


def test_muon_is_checked_against_torch_and_the_float64_reference():
    result = verify(get("muon"), steps=20)
    labels = {d.reference: d.tolerance for d in result.details}
    assert labels == {"torch.optim.Muon": get("muon").primary.tolerance,
                      "discover.references.MuonFloat64": 1e-10}
    exact = [d for d in result.details if d.reference == "discover.references.MuonFloat64"]
    assert max(d.max_rel for d in exact) < 1e-10
    # bfloat16 Newton-Schulz in torch: a real but small difference, inside the stated tolerance
    assert 1e-8 < result.max_rel <= result.tolerance


def test_format_table():
    results = verify_all(["sgd", "muon"], steps=3)
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["name", "reference"]
    assert "max rel diff" in lines[0] and "status" in lines[0]
    rows = [ln for ln in lines[2:] if ln and not ln.startswith(("muon (", "sgd ("))]
    assert [r.split()[0] for r in rows] == ["sgd", "muon", "muon"]
    assert all(r.split()[-1] == "passed" for r in rows)
    assert "tolerance 2e-02" in table  # the looser tolerance is explained under the table
