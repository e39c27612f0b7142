from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared" / "peer-fixtures"


@pytest.fixture
def fixture_pair():
    return FIXTURES / "halpe136_gt.json", FIXTURES / "halpe136_preds.json"


def shared_file(name: str) -> Path:
    """A file of ../shared/peer-fixtures, or skip cleanly when the checkout has none."""
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} not present (../shared is only beside the project's own checkouts)")
    return path
