"""Protocols as data: COCO-WholeBody vs xtcocotools, COCO-17 vs pycocotools, custom files, sigmas, hands."""
import json

import numpy as np
import pytest

from halpe_eval import InputError, evaluate, load_protocol
from halpe_eval.oracles import nest, run_oracle
from halpe_eval.protocol import COCO_STAT_NAMES as STAT_NAMES

from conftest import require_oracle, run_cli as run, shared_file
from oracle_cases import case

CWB_PARTS = ["body", "foot", "face", "left_hand", "right_hand", "wholebody"]
PART_SCORE_KEYS = ["foot_score", "face_score", "lefthand_score", "righthand_score", "wholebody_score"]


def assert_stats(result, raw, parts):
    for part in parts:
        _, _, values = raw[part]
        for name, value in zip(STAT_NAMES, values):
            got = result.parts[part].stats[name]
            assert (got is None) == (value == -1), (part, name)
            if got is not None:
                assert got == pytest.approx(value, abs=1e-9), (part, name)


def with_part_scores(preds, seed):
    rng = np.random.default_rng(seed)
    for p in preds:
        for key in PART_SCORE_KEYS:
            if rng.random() < 0.6:
                p[key] = round(float(rng.uniform()), 2)
    return preds


@pytest.fixture(scope="module")
def xtcocotools():
    return require_oracle("xtcocotools.cocoeval")


@pytest.mark.parametrize("seed", range(20))
def test_coco_wholebody_flat_and_nested_match_xtcocotools(xtcocotools, seed):
    cwb = load_protocol("coco-wholebody")
    gt, preds = case(seed, "coco-wholebody")
    preds = with_part_scores(preds, seed)
    oracle = run_oracle(cwb, gt, preds)
    flat = evaluate(gt, preds, split_hands=True)
    assert flat.protocol.name == "coco-wholebody"
    assert_stats(flat, oracle, CWB_PARTS)
    nested_gt = dict(gt, annotations=[nest(a, cwb) for a in gt["annotations"]])
    nested = evaluate(nested_gt, [nest(p, cwb) for p in preds], split_hands=True)
    assert nested.stats() == flat.stats()
    hands = flat.parts["hands"].stats
    for stat in STAT_NAMES:
        left, right = flat.parts["left_hand"].stats[stat], flat.parts["right_hand"].stats[stat]
        assert hands[stat] == (None if left is None or right is None else pytest.approx((left + right) / 2))


@pytest.mark.parametrize("seed", range(20))
def test_coco17_matches_pycocotools(seed):
    require_oracle("pycocotools.cocoeval")
    gt, preds = case(seed, "coco17")
    result = evaluate(gt, preds)
    assert result.protocol.name == "coco17" and list(result.parts) == ["body"]
    assert_stats(result, run_oracle(load_protocol("coco17"), gt, preds), ["body"])


def jittered(gt, seed):
    rng = np.random.default_rng(seed)
    preds = []
    for ann in gt["annotations"]:
        k = np.array(ann["keypoints"], float).reshape(-1, 3)
        k[:, :2] += rng.normal(0, 3, (len(k), 2))
        k[:, 2] = rng.uniform(0, 1, len(k))
        preds.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                      "keypoints": k.ravel().tolist(), "score": float(rng.uniform())})
    return preds


def test_mmpose_coco_fixture_matches_pycocotools():
    require_oracle("pycocotools.cocoeval")
    gt = json.loads(shared_file("test_coco.json").read_text())
    preds = jittered(gt, 1)
    assert_stats(evaluate(gt, preds, "coco17"), run_oracle(load_protocol("coco17"), gt, preds), ["body"])


def test_mmpose_nested_wholebody_fixture_matches_xtcocotools(xtcocotools):
    gt = json.loads(shared_file("test_coco_wholebody.json").read_text())
    cwb = load_protocol("coco-wholebody")
    preds = [nest(p, cwb) for p in jittered({"annotations": [
        dict(a, keypoints=a["keypoints"] + a["foot_kpts"] + a["face_kpts"] + a["lefthand_kpts"] + a["righthand_kpts"])
        for a in gt["annotations"]]}, 2)]
    result = evaluate(gt, preds, split_hands=True)
    assert result.protocol.name == "coco-wholebody"
    assert_stats(result, run_oracle(cwb, gt, preds), CWB_PARTS)


def test_official_coco_wholebody_example_matches_xtcocotools(xtcocotools):
    gt = json.loads(shared_file("coco_wholebody_example_gt.json").read_text())
    preds = json.loads(shared_file("coco_wholebody_example_pred.json").read_text())
    result = evaluate(gt, preds, split_hands=True)
    assert_stats(result, run_oracle(load_protocol("coco-wholebody"), gt, preds), CWB_PARTS)


def test_mmpose_keypoint_partition_metric_numbers():
    """mmpose's published AP/AR for test_keypoint_partition_metric.json (flat 133 keypoints)."""
    gt = json.loads(shared_file("test_keypoint_partition_metric.json").read_text())
    preds = []
    for ann in gt["annotations"]:
        k = np.array(ann["keypoints"], float).reshape(-1, 3)
        out = np.stack([k[:, 0] * 0.99, k[:, 1] * 1.02, k[:, 2] * 0.8], axis=1)
        preds.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                      "keypoints": out.ravel().tolist(), "score": 1.0})
    result = evaluate(gt, preds, split_hands=True)
    published = {"body": (0.749, 0.800), "foot": (0.840, 0.850), "face": (0.051, 0.050),
                 "left_hand": (0.283, 0.300), "right_hand": (0.383, 0.380), "wholebody": (0.284, 0.450)}
    for part, (ap, ar) in published.items():
        assert round(result.parts[part].stats["AP"], 3) == ap, part
        assert round(result.parts[part].stats["AR"], 3) == ar, part


def test_halpe26_body_and_foot_equal_halpecocotools_on_padded_data():
    """No official Halpe-26 evaluator exists: pad to 136 with unlabelled, zero-score keypoints."""
    require_oracle("halpecocotools.cocoeval")
    gt, preds = case(5, "halpe26")
    pad = lambda kps, first: kps + [first[0], first[1], 0] * 110  # noqa: E731 - same extent, no label
    gt136 = dict(gt, annotations=[dict(a, keypoints=pad(a["keypoints"], a["keypoints"])) for a in gt["annotations"]])
    preds136 = [dict(p, keypoints=pad(p["keypoints"], p["keypoints"])) for p in preds]
    result = evaluate(gt, preds)
    assert result.protocol.name == "halpe26" and list(result.parts) == ["body", "foot", "wholebody"]
    oracle = run_oracle(load_protocol("halpe136"), gt136, preds136)
    assert_stats(result, {"body": oracle["body"], "foot": oracle["foot"]}, ["body", "foot"])


TOY_TOML = """
name = "toy10"
keypoints = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]
sigmas = [0.05, 0.05, 0.06, 0.06, 0.07, 0.07, 0.08, 0.08, 0.09, 0.1]
rows = ["upper", "lower", "wholebody"]
crowd_ignored = true
drop_zero_score = "skeleton"

[parts]
upper = [0, 1, 2, 3, 4]
lower = [5, 6, 7, 8, 9]
wholebody = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""


def brute_force_ap(gt, preds, sigmas, idx):
    """COCO keypoint AP (area 'all') written the slow, obvious way."""
    thresholds = np.linspace(0.5, 0.95, 10)
    recall_thresholds = np.linspace(0, 1, 101)
    sig = np.asarray(sigmas)[idx]
    anns = gt["annotations"]
    kept = [p for p in preds if any(v > 0 for v in p["keypoints"][2::3])]
    by_image = {}
    for i, p in enumerate(kept):
        by_image.setdefault(p["image_id"], []).append((i, p))
    for img in by_image:
        by_image[img] = sorted(by_image[img], key=lambda t: -t[1]["score"])[:20]

    positives = sum(not _brute_ignored(a, idx) for a in anns)
    aps = []
    for t in thresholds:
        records = [r for img, dts in by_image.items()
                   for r in _brute_match_image([a for a in anns if a["image_id"] == img], img, dts, t, idx, sig)]
        records.sort(key=lambda r: (-r[0], r[1], r[2]))
        aps.append(_sampled_ap([(is_tp, is_ign) for *_, is_tp, is_ign in records], positives, recall_thresholds))
    return float(np.mean(aps))


def _brute_ignored(a, idx):
    return a["iscrowd"] or not any(v > 0 for v in np.array(a["keypoints"]).reshape(-1, 3)[idx, 2])


def _brute_match_image(anns, img, dts, t, idx, sig):
    """(score, image, rank, is_tp, is_ignored) per prediction of the image, greedily matched at OKS ``t``."""
    gts = sorted(anns, key=lambda a: _brute_ignored(a, idx))
    taken = [False] * len(gts)
    out = []
    for rank, (_, p) in enumerate(dts):
        best, m = t, -1
        for j, a in enumerate(gts):
            if taken[j] and not a["iscrowd"]:
                continue
            if m > -1 and not _brute_ignored(gts[m], idx) and _brute_ignored(a, idx):
                break
            o = _brute_oks(p, a, idx, sig)
            if o >= best:
                best, m = o, j
        if m > -1:
            taken[m] = True
        out.append((p["score"], img, rank, m > -1, m > -1 and _brute_ignored(gts[m], idx)))
    return out


def _brute_oks(p, a, idx, sig):
    """OKS of prediction ``p`` and GT ``a`` over keypoints ``idx``, as cocoeval.computeOks."""
    g = np.array(a["keypoints"], np.float64).reshape(-1, 3)[idx]
    d = np.array(p["keypoints"], np.float64).reshape(-1, 3)[idx]
    vis = g[:, 2] > 0
    e = ((d[:, 0] - g[:, 0]) ** 2 + (d[:, 1] - g[:, 1]) ** 2) / (2 * sig) ** 2 / (a["area"] + np.spacing(1)) / 2
    if vis.any():
        return np.exp(-e[vis]).mean()
    x, y, w, h = a["bbox"]
    dx = np.maximum(0, x - w - d[:, 0]) + np.maximum(0, d[:, 0] - (x + 2 * w))
    dy = np.maximum(0, y - h - d[:, 1]) + np.maximum(0, d[:, 1] - (y + 2 * h))
    return np.exp(-(dx**2 + dy**2) / (2 * sig) ** 2 / (a["area"] + np.spacing(1)) / 2).mean()


def _sampled_ap(outcomes, positives, recall_thresholds):
    """Mean interpolated precision at the recall thresholds, from (is_tp, is_ignored) in score order."""
    tp = fp = 0
    precisions, recalls = [], []
    for is_tp, is_ign in outcomes:
        if is_ign:
            continue
        tp, fp = tp + is_tp, fp + (not is_tp)
        precisions.append(tp / (tp + fp + np.spacing(1)))
        recalls.append(tp / positives)
    for k in range(len(precisions) - 2, -1, -1):
        precisions[k] = max(precisions[k], precisions[k + 1])
    sampled = []
    for r in recall_thresholds:
        k = next((k for k, rc in enumerate(recalls) if rc >= r), None)
        sampled.append(precisions[k] if k is not None else 0.0)
    return np.mean(sampled)


def test_custom_toml_protocol_against_brute_force(tmp_path):
    path = tmp_path / "toy10.toml"
    path.write_text(TOY_TOML)
    toy = load_protocol(str(path))
    assert toy.num_keypoints == 10 and toy.part_names() == ("upper", "lower", "wholebody")
    from halpe_eval.synthetic import SynthOptions, make_dataset

    for seed in range(3):
        gt, preds = make_dataset(seed, toy, SynthOptions(num_images=10))
        for p in preds:  # images are sorted by id in COCO; the brute force sorts ties the same way
            p["score"] = round(p["score"], 1)
        result = evaluate(gt, preds, str(path))
        for part in toy.part_names():
            idx = list(toy.parts[part])
            assert result.parts[part].stats["AP"] == pytest.approx(
                brute_force_ap(_sorted_images(gt), preds, toy.sigmas, idx), abs=1e-9), (seed, part)


def _sorted_images(gt):
    order = {img["id"]: i for i, img in enumerate(sorted(gt["images"], key=lambda im: im["id"]))}
    anns = sorted(gt["annotations"], key=lambda a: order[a["image_id"]])
    return dict(gt, annotations=anns)


def test_protocol_file_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "x", "keypoints": ["a", "b"], "sigmas": [0.1], "parts": {"all": [0, 1]}}))
    with pytest.raises(InputError, match=r"bad.json: protocol 'sigmas' must be a list of 2 numbers"):
        load_protocol(str(path))
    path.write_text(json.dumps({"name": "x", "keypoints": ["a"], "sigmas": [0.1], "parts": {"all": [0, 3]}}))
    with pytest.raises(InputError, match=r"part 'all' must list distinct keypoint indices in 0..0"):
        load_protocol(str(path))


def test_detection_and_help_lists_protocols(fixture_pair):
    help_text = run("--help")[1]
    for name in ("halpe136", "coco-wholebody", "coco17", "halpe26"):
        assert name in help_text
    gt, preds = case(1, "coco17")
    assert evaluate(gt, preds).protocol.name == "coco17"


def test_sigmas_override(tmp_path, fixture_pair):
    wide = tmp_path / "sigmas.json"
    wide.write_text(json.dumps([0.2] * 136))
    base = json.loads(run(*fixture_pair, "--format", "json", "-q")[1])
    code, out, _ = run(*fixture_pair, "--format", "json", "-q", "--sigmas", wide)
    assert code == 0
    assert json.loads(out)["parts"]["face"]["AP"] > base["parts"]["face"]["AP"]
    short = tmp_path / "short.json"
    short.write_text("[0.1, 0.2]")
    code, _, err = run(*fixture_pair, "--sigmas", short)
    assert code == 2
    assert "expected 136 positive numbers" in err and str(short) in err


def test_split_hands_rows(fixture_pair):
    result = evaluate(*fixture_pair, split_hands=True)
    assert list(result.parts) == ["body", "foot", "face", "hands", "left_hand", "right_hand", "wholebody"]
