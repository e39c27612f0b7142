"""Real files read as the official tools read them.

- Duplicate records, on seeded files shaped like the two real cases (COCO val2017 written with one
  identical ``images`` record per annotation; a user's GT repeating whole annotation records):
  identical copies are accepted as the oracles read them, copies that differ are refused.
- Every GT/prediction pair of ``../shared/real-data`` (and the derived pairs on
  ``../shared/peer-fixtures``) that its oracle scores, against that oracle, to 1e-9 (skipped cleanly
  when ``../shared`` is absent).
- No false warning: ``num_keypoints`` is compared with what each dataset counts.
"""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from halpe_eval import InputError, evaluate, load_ground_truth, load_protocol
from halpe_eval.oracles import run_oracle

from conftest import require_oracle
from oracle_cases import case

SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL = SHARED / "real-data"
PEER = SHARED / "peer-fixtures"
ORACLE_MODULES = {"halpecocotools": "halpecocotools.cocoeval", "xtcocotools": "xtcocotools.cocoeval",
                  "pycocotools": "pycocotools.cocoeval"}


def assert_equals_oracle(result, raw):
    """Every statistic and the full precision/recall arrays of every scored part, to 1e-9."""
    for part, (precision, recall, stats) in raw.items():
        ours = result.parts[part]
        for name, value in zip(result.protocol.params.stat_names, stats):
            got = ours.stats[name]
            assert (got is None) == (value == -1), (part, name, got, value)
            assert got is None or got == pytest.approx(value, abs=1e-9), (part, name, got, value)
        np.testing.assert_allclose(ours.precision, precision, atol=1e-9, err_msg=part)
        np.testing.assert_allclose(ours.recall, recall, atol=1e-9, err_msg=part)


def oracle_of(protocol_name):
    protocol = load_protocol(protocol_name)
    require_oracle(ORACLE_MODULES[protocol.reference])
    return protocol


# ---------------------------------------------------------------- duplicates, seeded


@pytest.mark.parametrize("protocol_name", ["halpe136", "coco-wholebody", "coco17"])
def test_identical_image_records_are_counted_once_as_the_oracle_does(protocol_name):
    protocol = oracle_of(protocol_name)
    gt, preds = case(11, protocol_name)
    by_id = {image["id"]: image for image in gt["images"]}
    repeated = dict(gt, images=[dict(by_id[a["image_id"]]) for a in gt["annotations"]] + gt["images"])
    result = evaluate(repeated, preds, protocol_name, split_hands=bool(protocol.split_hands_rows))
    assert result.num_images == len(gt["images"])
    assert result.stats() == evaluate(gt, preds, protocol_name, split_hands=bool(protocol.split_hands_rows)).stats()
    assert any("'images' record(s) repeat an earlier record exactly; each image is counted once" in w
               for w in result.warnings)
    assert_equals_oracle(result, run_oracle(protocol, repeated, preds))


@pytest.mark.parametrize("protocol_name", ["halpe136", "coco-wholebody", "coco17"])
def test_identical_annotation_records_are_scored_as_the_oracle_scores_them(protocol_name):
    """Each copy is a separate person (the COCO API indexes annotations by image, copies included); in
    halpecocotools every copy ends up ignored (Protocol.repeated_annotations says why)."""
    protocol = oracle_of(protocol_name)
    gt, preds = case(12, protocol_name)
    copies = [copy.deepcopy(a) for a in gt["annotations"][::3] for _ in range(2)]
    repeated = dict(gt, annotations=gt["annotations"] + copies)
    result = evaluate(repeated, preds, protocol_name, split_hands=bool(protocol.split_hands_rows))
    assert result.num_gt == len(gt["annotations"]) + len(copies)
    assert result.stats() != evaluate(gt, preds, protocol_name, split_hands=bool(protocol.split_hands_rows)).stats()
    said = {"separate": "each copy is scored as a separate person", "ignored": "every copy is ignored"}
    assert any(said[protocol.repeated_annotations] in w for w in result.warnings)
    assert_equals_oracle(result, run_oracle(protocol, repeated, preds))


def test_annotation_records_sharing_an_id_but_differing_are_refused():
    gt, preds = case(12, "coco17")
    changed = dict(gt["annotations"][0], area=gt["annotations"][0]["area"] + 1)
    with pytest.raises(InputError, match=r"annotations\[0\] and annotations\[\d+\] both have id \d+ but differ "
                                         r"in 'area'"):
        load_ground_truth(dict(gt, annotations=gt["annotations"] + [changed]), "coco17")


# ---------------------------------------------------------------- the real files


def shared(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} not present (../shared is only beside the project's own checkouts)")
    return path


REAL_PAIRS = [  # (GT, predictions, protocol): every pair of ../shared/real-data an oracle scores
    (REAL / "xtcocoapi/example_coco_val.json", REAL / "xtcocoapi/example_coco_preds.json", "coco17"),
    (REAL / "xtcocoapi/example_wholebody_val.json", REAL / "xtcocoapi/example_wholebody_preds.json",
     "coco-wholebody"),
    (REAL / "xtcocoapi/example_crowdpose_val.json", REAL / "xtcocoapi/example_crowdpose_preds.json", "crowdpose"),
    (REAL / "faster-coco-eval/keypoints_dataset_gt_dataset.json",
     REAL / "faster-coco-eval/keypoints_dataset_dt_dataset.json", "coco17"),
    (REAL / "litehrnet-custom/person_keypoints_val2017.json",
     REAL / "litehrnet-custom/result_keypoints_litehrnet_18_coco_256x192.json", "coco17"),
    (REAL / "litehrnet-custom/person_keypoints_val2017_new.json",
     REAL / "litehrnet-custom/result_keypoints_litehrnet_18_coco_384x288.json", "coco17"),
    (REAL / "hrnet-val2017-dupimages/person_keypoints_val2017.json",
     REAL / "derived/coco17_preds_image785_from_xtcocoapi.json", "coco17"),
    *[(REAL / "transpose-car/person_keypoints_val2017.json", REAL / f"transpose-car/{name}", "coco17")
      for name in ("keypoints_val2017_results_0_transpose_h_a4_car.json",
                   "keypoints_val2017_results_0_transpose_r_a3_car.json",
                   "keypoints_val2017_results_0_transpose_r_a4_car.json")],
    (PEER / "test_halpe.json", REAL / "derived/halpe136_preds_from_xtcocoapi_wholebody_preds.json", "halpe136"),
    (PEER / "test_coco.json", REAL / "derived/mmpose_coco_topdown_align_bbox_keypoint.json", "coco17"),
    (PEER / "test_coco.json", REAL / "derived/mmpose_coco_topdown_align_bbox_rle.json", "coco17"),
    (PEER / "test_coco.json", REAL / "derived/mmpose_coco_bottomup_gt_as_pred.json", "coco17"),
    (PEER / "test_coco_wholebody.json", REAL / "derived/mmpose_cwb_bottomup_gt_as_pred.json", "coco-wholebody"),
]


@pytest.mark.parametrize("gt_path, preds_path, protocol_name", REAL_PAIRS,
                         ids=[f"{g.parent.name}/{p.name}" for g, p, _ in REAL_PAIRS])
def test_real_pair_equals_its_oracle(gt_path, preds_path, protocol_name):
    protocol = oracle_of(protocol_name)
    gt = json.loads(shared(gt_path).read_text())
    preds = json.loads(shared(preds_path).read_text())
    result = evaluate(str(gt_path), str(preds_path), split_hands=bool(protocol.split_hands_rows))
    assert result.protocol.name == protocol_name  # detected from the GT
    assert_equals_oracle(result, run_oracle(protocol, gt, preds))


def test_the_faster_coco_eval_pair_gives_its_published_numbers():
    """faster-coco-eval's tests/test_keypoints.py asserts pycocotools' stats for this pair."""
    published = [0.5048844884488449, 0.7227722772277227, 0.6336633663366337, 0.46633663366336636,
                 0.7504950495049505, 0.5181818181818182, 0.7272727272727273, 0.6363636363636364,
                 0.4666666666666666, 0.75]
    gt = shared(REAL / "faster-coco-eval/keypoints_dataset_gt_dataset.json")
    preds = shared(REAL / "faster-coco-eval/keypoints_dataset_dt_dataset.json")
    stats = evaluate(str(gt), str(preds)).parts["body"].stats
    assert list(stats.values()) == pytest.approx(published, abs=1e-12)


# ---------------------------------------------------------------- no false warnings


def _ground_truth_files():
    files = sorted(p for folder in (REAL, PEER) if folder.is_dir() for p in folder.rglob("*.json"))
    return [p for p in files if _is_ground_truth(p)] or [REAL / "absent.json"]


def _is_ground_truth(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"{") and b'"images"' in path.read_bytes()[:10_000_000]


@pytest.mark.parametrize("gt_path", _ground_truth_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_num_keypoints_warning_where_the_file_is_consistent(gt_path):
    """Halpe and COCO-WholeBody count the 17 COCO body keypoints in ``num_keypoints`` on purpose, CrowdPose its
    12 limb keypoints (not head and neck); COCO all."""
    data = json.loads(shared(gt_path).read_text())
    gt = load_ground_truth(data, name=gt_path.name)
    counted = list(gt.protocol.num_keypoints_counts)
    labelled = (gt.keypoints[:, counted, 2] > 0).sum(axis=1)
    consistent = bool(((gt.num_keypoints < 0) | (gt.num_keypoints == labelled)).all())
    warned = any("'num_keypoints' different" in w for w in gt.warnings)
    assert warned == (not consistent), gt.warnings


@pytest.mark.parametrize("protocol_name", ["halpe136", "coco-wholebody", "coco17"])
def test_reference_backend_keeps_repeated_records_repeated(protocol_name):
    """Its id renumbering (against the id-0 bug) keeps copies sharing one id, so the oracle sees the file's shape."""
    from halpe_eval.oracles import evaluate_reference

    oracle_of(protocol_name)
    gt, preds = case(12, protocol_name)
    repeated = dict(gt, annotations=gt["annotations"] + [copy.deepcopy(a) for a in gt["annotations"][::4]])
    theirs = evaluate_reference(repeated, preds, protocol_name).stats()
    ours = evaluate(repeated, preds, protocol_name).stats()
    assert theirs.keys() == ours.keys()
    for part, stats in ours.items():
        assert theirs[part] == pytest.approx(stats, abs=1e-9), part


def test_reference_backend_records_its_options_as_native_does(tmp_path):
    from halpe_eval.oracles import evaluate_reference
    from halpe_eval.protocol import BUILTIN_DIR

    oracle_of("halpe136")
    gt, preds = case(13)
    as_file = tmp_path / "my-halpe.json"
    as_file.write_text((BUILTIN_DIR / "halpe136.json").read_text())
    native = evaluate(gt, preds, str(as_file), split_hands=False)
    reference = evaluate_reference(gt, preds, str(as_file))
    assert native.options == reference.options == {"protocol_file": str(as_file)}
