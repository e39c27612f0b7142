"""The COCO-17 diagnosis equals coco-analyze's, to 1e-9, on real result files and on the planted scene.

coco-analyze (matteorr/coco-analyze @ 9eb8a0a, Python 2) was run as an oracle in a throwaway environment
outside the repository; its values are recorded in ``data/coco_analyze_values.json`` with their
provenance (tool commit, interpreter, call, input sha256).  The real files live in
``../shared/real-data`` (skipped cleanly without it); the planted scene is rebuilt here and must hash to
the bytes the oracle read.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from diagnosis_cases import scene

from halpe_eval import evaluate
from halpe_eval.diagnosis import ERROR_TYPES, diagnose

DATA = json.loads((Path(__file__).parent / "data" / "coco_analyze_values.json").read_text())
REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
ORACLE_STEPS = {"baseline": "baseline", "miss": "miss", "swap": "swap", "inversion": "inversion",
                "jitter": "jitter", "score": "score", "background": "bckgd_false_pos", "false_negative": "false_neg"}
REAL_CASES = sorted(name for name in DATA["cases"] if name != "planted")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_equals_coco_analyze(part, expected):
    """Every AP and recall of every step, area range and threshold; keypoint and background counts."""
    thresholds = [round(t, 2) for t in part.thresholds]
    for area, steps in expected["ap"].items():
        for step, oracle_step in ORACLE_STEPS.items():
            curves = part.ranges[area].steps[step]
            ap, recall = curves.ap_at(), curves.recall[:, 0]
            for label, value in steps[oracle_step].items():
                t = float(label)
                if step == "false_negative":  # coco-analyze prints these against reversed thresholds (bug 12.1)
                    t = round(1.45 - t, 2)
                i = thresholds.index(round(t, 2))
                assert ap[i] == pytest.approx(value, abs=1e-9), (area, step, t)
                assert recall[i] == pytest.approx(expected["recall"][area][oracle_step][label], abs=1e-9)
        background = part.ranges[area].background
        for i, t in enumerate(thresholds):
            assert background.false_pos[i] == expected["false_pos_dts"][area][str(t)], (area, t)
            assert background.false_neg[i] == expected["false_neg_gts"][area][str(t)], (area, t)
    for i, kind in enumerate(ERROR_TYPES):
        assert part.error_counts[i].tolist() == expected["keypoint_errors_all"][kind], kind
    for i, t in enumerate(thresholds):
        assert part.background.false_pos[i] == expected["original_false_pos_dts_all"][str(t)]
        assert part.background.false_neg[i] == expected["original_false_neg_gts_all"][str(t)]


@pytest.mark.parametrize("name", REAL_CASES)
def test_real_coco17_results_equal_coco_analyze(name):
    case = DATA["cases"][name]
    gt, preds = REAL / case["gt"], REAL / case["preds"]
    if not gt.is_file() or not preds.is_file():
        pytest.skip(f"{gt.parent} not present (../shared is only beside the project's own checkouts)")
    assert _sha(gt.read_bytes()) == case["gt_sha256"] and _sha(preds.read_bytes()) == case["preds_sha256"]
    part = diagnose(evaluate(gt, preds, protocol="coco17")).parts["body"]
    assert_equals_coco_analyze(part, case)


def test_planted_scene_equals_coco_analyze():
    case = DATA["cases"]["planted"]
    gt, preds = scene()
    assert _sha(json.dumps(gt).encode()) == case["gt_sha256"]  # the bytes coco-analyze read
    assert _sha(json.dumps(preds).encode()) == case["preds_sha256"]
    part = diagnose(evaluate(gt, preds, protocol="coco17")).parts["body"]
    assert_equals_coco_analyze(part, case)


def test_the_recorded_values_are_not_trivial():
    """The oracle values move along the sequence, so equal values prove something."""
    case = DATA["cases"]["litehrnet_custom1000"]["ap"]["all"]
    values = [case[step]["0.75"] for step in ORACLE_STEPS.values()]
    assert len(set(np.round(values, 6))) >= 4
