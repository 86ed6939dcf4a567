"""browse: the page of ``discover show`` names the entry's family and file."""

from discover.browse import describe, entry_row
from discover.library import get


def test_show_names_family_file_and_primary_reference():
    page = describe(get("lion"))
    assert "family:      elementwise.sign  (discover/library/elementwise/sign.py)" in page
    assert "reference:   pytorch_optimizer.Lion" in page
    assert "def lion(" in page


def test_list_row_shows_the_primary_reference_label():
    row = entry_row(get("adamw"))
    assert row["name"] == "adamw" and row["reference"] == "torch.optim.AdamW"
