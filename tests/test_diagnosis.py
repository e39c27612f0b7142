"""Keypoint error diagnosis on planted COCO-17 scenes: every keypoint's class is known by construction.

See diagnosis_cases.py for the scene: a jitter at similarity 0.7, an inversion, swaps to a neighbour's
keypoint as is and mirrored, a miss, a background prediction, an undetected person, a small person.
"""
import math

import numpy as np
import pytest
from diagnosis_cases import AREA, EXPECTED, JITTER_KS, SIGMAS, scene, wholebody_scene

from halpe_eval import evaluate, load_protocol
from halpe_eval.diagnosis import ERROR_TYPES, STEPS, diagnose
from halpe_eval.diagnosis.keypoints import GOOD, classify, shift
from halpe_eval.diagnosis.scene import build_scene, match, similarity


@pytest.fixture(scope="module")
def planted():
    gt, preds = scene()
    result = evaluate(gt, preds, protocol="coco17")
    return result, diagnose(result).parts["body"]


def test_every_keypoint_is_classified_as_planted(planted):
    _, part = planted
    counts = part.error_counts
    for k in range(17):
        kind = EXPECTED.get(k, "good")
        expected = np.zeros(len(ERROR_TYPES), dtype=int)
        expected[ERROR_TYPES.index(kind)] += 1  # P1's keypoint
        expected[GOOD] += 2  # P3 on B and P4 on the small person D are exact
        assert counts[:, k].tolist() == expected.tolist(), (k, kind)
    assert part.analysed == 3  # P1, P3 and P4 (matched to D though D is ignored in 'all')


def _classified(result):
    scene_ = build_scene(result.ground_truth, result.predictions, result.protocol, "body")
    located = match(scene_, similarity(scene_, scene_.xy), scene_.rank, scene_.gt_ignored[:1], np.array([0.1]))[0, 0]
    dt = np.flatnonzero(located >= 0)
    return scene_, classify(scene_, dt, located[dt], result.protocol.flip_map())


def test_jitter_sits_at_the_chosen_similarity_and_fixes_land_at_its_fourth_root(planted):
    result, _ = planted
    scene_, errors = _classified(result)
    p1 = int(np.flatnonzero(scene_.dt[errors.dt] == 0)[0])  # the first prediction of the file
    assert errors.best[p1, 1] == pytest.approx(JITTER_KS, abs=1e-12)
    assert errors.best[p1, 5] == pytest.approx(1.0) and errors.best[p1, 9] == pytest.approx(1.0)
    a = result.ground_truth.keypoints[0]
    for k, t in ((1, 0.85), (15, 0.5), (5, 1.0 - np.spacing(1))):  # jitter, miss, inversion (m = 1)
        x, y = errors.corrected[p1, k]
        assert (x, y) == (pytest.approx(a[k, 0] + math.sqrt(-math.log(t) * 2 * AREA * SIGMAS[k] ** 2)), a[k, 1])
        assert x == a[k, 0] + shift(np.array(t), AREA, np.array(SIGMAS[k]))
        ks = math.exp(-((x - a[k, 0]) ** 2) / (2 * SIGMAS[k]) ** 2 / AREA / 2)
        assert ks == pytest.approx(t**0.25, rel=1e-9)  # quirk 12.2: KS t^(1/4), not t
    good = errors.classes[p1] == GOOD
    assert np.array_equal(errors.corrected[p1][good], scene_.xy[errors.dt[p1]][good])


def test_background_prediction_undetected_person_and_small_person(planted):
    _, part = planted
    fp = part.background
    assert fp.false_pos_every_oks == 1  # P2, far from everyone
    assert fp.false_neg_not_ignored_every_oks == 1  # C, whom nobody predicts
    assert fp.false_neg_every_oks == 1  # D (small) is matched by P4, so only C is missed
    negatives = part.instances["false_negatives"]
    assert negatives["count"] == 1 and negatives["by_size"]["xlarge"] == {"count": 1, "of": 3}  # 100^2
    assert negatives["by_labelled_keypoints"]["16-17"] == {"count": 1, "of": 3}
    assert negatives["by_overlapping_people"]["0"] == {"count": 1, "of": 3}
    positives = part.instances["false_positives"]
    assert positives["count"] == 1 and positives["by_people_in_image"]["2-4"] == {"count": 1, "of": 3}


def test_the_sequence_removes_each_error_in_turn(planted):
    _, part = planted
    ap = {step: part.ranges["all"].steps[step].ap_at() for step in STEPS}
    assert np.all(np.diff([ap[s].mean() for s in STEPS]) >= -1e-12)  # fixing errors never lowers AP here
    assert ap["inversion"][-1] > ap["swap"][-1]  # the inversion held P1 below OKS .95
    assert ap["score"][0] > ap["jitter"][0]  # the background prediction P2 no longer ranks first
    assert np.allclose(ap["false_negative"], 1.0)  # C ignored: everything left is found, in order
    small = part.ranges["medium"].steps["baseline"].ap_at()
    assert np.all(small == -1)  # no GT between 32^2 and 96^2: undefined, as cocoeval's -1


def test_json_object_has_the_documented_shape(planted):
    result, _ = planted
    out = diagnose(result).to_dict()["body"]
    assert out["keypoint_errors"] == {"good": 46, "jitter": 1, "inversion": 1, "swap": 2, "miss": 1}
    assert out["keypoint_errors_per_keypoint"]["left_shoulder"]["inversion"] == 1
    assert set(out["ap_after_fix"]) == {"all", "medium", "large"}
    assert list(out["ap_after_fix"]["all"]) == list(STEPS)
    assert set(out["ap_after_fix"]["all"]["baseline"]) == {"AP", "AP50", "AP75"}
    assert out["ap_after_fix"]["medium"]["baseline"]["AP"] is None
    assert "32^2" in out["counts_area_range"]
    assert out["false_negatives"]["original"]["at_every_oks"] == {"not_ignored": 1, "all_annotations": 1}


def test_without_flip_pairs_a_mirrored_keypoint_is_no_inversion(planted):
    """A skeleton whose protocol has no flip_pairs has no mirror: the left shoulder on the right one is a miss."""
    gt, preds = scene()
    data = {k: v for k, v in vars(load_protocol("coco17")).items() if k in ("keypoints", "sigmas", "parts")}
    custom = {"name": "mirrorless", "keypoints": list(data["keypoints"]), "sigmas": list(data["sigmas"]),
              "parts": {"all17": list(range(17))}, "no_keypoints_rule": "num_keypoints"}
    part = diagnose(evaluate(gt, preds, protocol=load_protocol(custom))).parts["all17"]
    assert part.error_counts[ERROR_TYPES.index("inversion")].sum() == 0
    assert part.error_counts[ERROR_TYPES.index("miss"), 5] == 1


def test_flip_pairs_are_validated():
    from halpe_eval import InputError

    base = {"name": "x", "keypoints": ["a", "b", "c"], "sigmas": [0.1, 0.1, 0.1], "parts": {"p": [0, 1, 2]}}
    assert load_protocol({**base, "flip_pairs": [[0, 2]]}).flip_map().tolist() == [2, 1, 0]
    for bad in ([[0, 3]], [[0, 1], [1, 2]], [[0]], "0-1"):
        with pytest.raises(InputError, match="flip_pairs"):
            load_protocol({**base, "flip_pairs": bad})


def test_wholebody_hands_exchanged_face_mirrored_feet_borrowed():
    gt, preds = wholebody_scene()
    proto = load_protocol("halpe136")
    diagnosis = diagnose(evaluate(gt, preds, protocol="halpe136"))
    whole = diagnosis.parts[proto.whole_part]
    assert whole.whole_parts["left_hand"] == {"analysed": 2, "mirrored": 1, "from_another_person": 0}
    assert whole.whole_parts["right_hand"] == {"analysed": 2, "mirrored": 1, "from_another_person": 0}
    assert whole.whole_parts["face"]["mirrored"] == 1
    assert whole.whole_parts["foot"] == {"analysed": 2, "mirrored": 0, "from_another_person": 1}
    assert whole.whole_parts["body"] == {"analysed": 2, "mirrored": 0, "from_another_person": 0}
    flip = proto.flip_map()
    column = {k: i for i, k in enumerate(proto.parts[proto.whole_part])}
    for k in proto.parts[proto.whole_part]:  # every keypoint of P1 as planted (P2 adds one good each)
        if k in proto.parts["foot"]:
            kind = "swap"
        elif flip[k] != k and (k in proto.parts["face"] or k in proto.parts["hands"]):
            kind = "inversion"
        else:
            kind = "good"
        counts = whole.error_counts[:, column[k]]
        assert counts[ERROR_TYPES.index(kind)] == 1 + (kind == "good"), (proto.keypoints[k], kind, counts)
    assert set(diagnosis.parts) == {p for row in proto.part_names() for p in proto.components(row)}


@pytest.mark.parametrize("protocol", ["coco17", "halpe26", "halpe136", "coco-wholebody"])
def test_diagnosis_runs_on_every_protocol(protocol):
    from halpe_eval.synthetic import SynthOptions, make_dataset

    gt, preds = make_dataset(3, protocol, SynthOptions(num_images=12))
    result = evaluate(gt, preds, protocol=protocol)
    diagnosis = diagnose(result)
    proto = result.protocol
    assert set(diagnosis.parts) == {p for row in proto.part_names() for p in proto.components(row)}
    for name, part in diagnosis.parts.items():
        assert part.error_counts.shape == (5, len(proto.parts[name]))
        assert part.error_counts.sum() > 0, name
        ap = [part.ranges["all"].steps[s].ap_at().mean() for s in STEPS]
        assert ap[-1] >= ap[0], name
    assert diagnosis.parts[proto.whole_part].whole_parts or len(proto.parts) == 1
    out = diagnosis.to_dict()
    assert set(out) == set(diagnosis.parts)


def test_parts_diagnosed_by_the_forked_worker_equal_parts_diagnosed_here(monkeypatch):
    """diagnose() shares the parts with a forked worker (its results come back pickled); each part equals
    diagnose_part run in this process."""
    import json

    import halpe_eval.reading.sharing as sharing
    from halpe_eval.diagnosis.part import diagnose_part
    from halpe_eval.diagnosis.report import Diagnosis
    from halpe_eval.synthetic import SynthOptions, make_dataset

    gt, preds = make_dataset(5, "halpe136", SynthOptions(num_images=20))
    result = evaluate(gt, preds)
    proto = result.protocol
    workers: list[sharing.Sharing] = []
    stop = sharing.Sharing.stop

    def recorded(self):
        workers.append(self)
        stop(self)

    monkeypatch.setattr(sharing.Sharing, "stop", recorded)
    shared = diagnose(result).to_dict()
    here = Diagnosis(proto.name, {part: diagnose_part(result.ground_truth, result.predictions, proto, part,
                                                      part == proto.whole_part) for part in shared}).to_dict()
    assert len(workers) == 1  # the parts were shared with a worker
    assert json.dumps(shared, sort_keys=True) == json.dumps(here, sort_keys=True)


def test_a_custom_skeleton_is_diagnosed_from_its_protocol_file_alone(tmp_path):
    """A 5-keypoint skeleton with two parts and one mirror pair, written as TOML: nothing else is needed."""
    (tmp_path / "toy.toml").write_text(
        'name = "toy5"\nkeypoints = ["head", "l_hand", "r_hand", "l_foot", "r_foot"]\n'
        "sigmas = [0.05, 0.06, 0.06, 0.08, 0.08]\nflip_pairs = [[1, 2], [3, 4]]\n"
        "[parts]\nupper = [0, 1, 2]\nall5 = [0, 1, 2, 3, 4]\n")
    pts = [[100, 100], [300, 200], [500, 200], [300, 500], [500, 500]]
    gt = {"images": [{"id": 1, "width": 800, "height": 800}], "categories": [{"id": 1, "name": "toy"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 200_000.0,
                           "bbox": [100, 100, 400, 400], "keypoints": [v for p in pts for v in (*p, 2)]}]}
    swapped = [pts[0], pts[2], pts[1], pts[3], pts[4]]  # hands exchanged
    preds = [{"image_id": 1, "category_id": 1, "score": 0.9, "keypoints": [v for p in swapped for v in (*p, 1)]}]
    diagnosis = diagnose(evaluate(gt, preds, protocol=str(tmp_path / "toy.toml")))
    whole = diagnosis.parts["all5"]
    assert whole.error_counts[ERROR_TYPES.index("inversion")].tolist() == [0, 1, 1, 0, 0]
    assert whole.whole_parts["upper"] == {"analysed": 1, "mirrored": 1, "from_another_person": 0}  # 2 of 3 > half
