import importlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from halpe_eval.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SHARED = ROOT.parent / "shared" / "peer-fixtures"


@pytest.fixture
def fixture_pair():
    return FIXTURES / "halpe136_gt.json", FIXTURES / "halpe136_preds.json"


def shifted_predictions(preds_path: Path, pixels: float, out: Path) -> Path:
    """A worse run: the predictions of ``preds_path`` with every keypoint moved by ``pixels``, written to
    ``out``/worse.json."""
    preds = json.loads(preds_path.read_text())
    for p in preds:
        p["keypoints"] = [v + pixels if i % 3 != 2 else v for i, v in enumerate(p["keypoints"])]
    path = out / "worse.json"
    path.write_text(json.dumps(preds))
    return path


def shared_file(name: str) -> Path:
    """A file of ../shared/peer-fixtures, or skip cleanly when the checkout has none."""
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} not present (../shared is only beside the project's own checkouts)")
    return path


def require_oracle(module: str):
    """Import an official evaluator; skip without it, or fail when HALPE_EVAL_REQUIRE_ORACLES=1 (CI)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("HALPE_EVAL_REQUIRE_ORACLES") == "1":
            pytest.fail(f"oracle {module} is required here but cannot be imported: {exc}")
        pytest.skip(f"{module} not installed (see README: Tests)")


def run_cli(*args, stdin=None):
    """Run the command line in-process: (exit status, stdout, stderr), stderr kept apart from stdout."""
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2 (the last for Python 3.9) mixes them otherwise
    except TypeError:
        runner = CliRunner()  # click >= 8.2 always keeps them apart
    result = runner.invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr
