"""The modules `tests/conftest.py` hands to the workers first still exist: a renamed one would
silently fall back to the end of the run."""
from tests.conftest import LONGEST_FIRST
from tests.unit.support import ROOT


def test_every_module_handed_out_first_exists():
    missing = [module for module in LONGEST_FIRST if not (ROOT / module).is_file()]
    assert not missing, missing
