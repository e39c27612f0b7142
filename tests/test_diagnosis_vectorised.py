"""The diagnosis' vectorised stages equal plain per-image loops written from their definitions.

Each reference below walks one image at a time, as ../DIAGNOSIS.md states the step (keypoint
classes section 6, soft-NMS section 8, scoring errors section 11, cocoeval's greedy matching); the
vectorised code must give the very same floats and counts on synthetic scenes with crowded images (more
predictions than ``max_detections``), duplicates (predictions close to each other), score ties and zero
scores.
"""
import dataclasses

import numpy as np
import pytest

from halpe_eval import evaluate
from halpe_eval.diagnosis.instances import _ranking_errors
from halpe_eval.diagnosis.keypoints import classify
from halpe_eval.diagnosis.optimal_score import OptimalScores, best_oks
from halpe_eval.diagnosis.scene import build_scene, match, rematch, similarity
from halpe_eval.oks import EPS
from halpe_eval.synthetic import SynthOptions, make_dataset

CASES = [(0, "coco17", "body"), (1, "halpe136", "face"), (2, "halpe136", "wholebody"), (3, "coco-wholebody", "foot")]


def _scene(seed, protocol, part):
    options = SynthOptions(num_images=25, max_people=5, duplicate_rate=0.5, crowded_image_rate=0.15)
    gt, preds = make_dataset(seed, protocol, options)
    result = evaluate(gt, preds, protocol=protocol)
    scene = build_scene(result.ground_truth, result.predictions, result.protocol, part)
    return scene, similarity(scene, scene.xy)


def reference_soft_nms(scene, xy, start):
    """coco-analyze's soft-NMS, one image at a time: re-sort the remaining predictions by score (stable), settle
    the first, decay every other non-zero score by exp(-o^2 / 0.5)."""
    x = xy.astype(np.float64)
    variances = (scene.sigmas * 2) ** 2
    low, high = x.min(axis=1), x.max(axis=1)
    area = (high[:, 0] - low[:, 0]) * (high[:, 1] - low[:, 1])
    final = np.full(len(start), np.nan)
    for group in np.unique(scene.group):
        members = np.flatnonzero(scene.group == group)
        remaining = [int(i) for i in members[np.argsort(scene.rank[members], kind="stable")]]
        score = {i: start[i] for i in remaining}
        while remaining:
            remaining.sort(key=lambda i: -score[i])  # Python's sort is stable: ties keep the previous order
            m = remaining.pop(0)
            final[m] = score[m]
            for q in remaining:
                if score[q] == 0:
                    continue
                d2 = (x[q, :, 0] - x[m, :, 0]) ** 2 + (x[q, :, 1] - x[m, :, 1]) ** 2
                o = np.sum(np.exp(-(d2 / variances / (0.5 * (area[m] + area[q]) + EPS) / 2))) / x.shape[1]
                score[q] = score[q] * np.exp(-(o**2) / 0.5)
    return final


@pytest.mark.parametrize("seed,protocol,part", CASES)
def test_optimal_scores_equal_a_per_image_soft_nms_across_keypoint_configurations(seed, protocol, part):
    scene, oks = _scene(seed, protocol, part)
    n = len(scene.dt)
    rng = np.random.default_rng(seed)
    moved = scene.xy.copy()
    moved += rng.normal(0, 8, moved.shape).astype(moved.dtype)  # a second keypoint row for every prediction
    start = best_oks(scene, oks, scene.gt_ignored[0])
    start[rng.random(n) < 0.1] = 0.0  # zero scores stay zero
    tied = rng.random(n) < 0.2
    start[tied] = np.round(start[tied], 1)  # ties keep the previous order
    crowded = np.flatnonzero(scene.group == np.bincount(scene.group).argmax())
    moved[crowded] = moved[crowded[0]] + rng.uniform(0, 3, (len(crowded), 1, 2)).astype(moved.dtype)  # near twins
    start[crowded] = 0.5  # all tied: the order in which they settle decides every decay
    scores = OptimalScores(scene, moved)
    rows = np.arange(n)
    for share in (0.0, 0.5, 0.5, 0.1, 1.0):  # each call reuses the factors of pairs whose rows did not change
        rows = np.where(rng.random(n) < share, n + np.arange(n), np.arange(n)) if share else rows
        xy = np.where((rows >= n)[:, None, None], moved, scene.xy)
        assert np.array_equal(scores(rows, start), reference_soft_nms(scene, xy, start))
    assert (scene.group[1:] == scene.group[:-1]).any()  # some image has several predictions to decay


def reference_ranking_errors(scene, oks, rank):
    """coco-analyze's scoring errors, one image at a time (see instances._ranking_errors)."""
    counted = ~scene.gt_ignored[0][scene.pair_gt]
    errors = 0
    for image in np.unique(scene.dt_image):
        sel = np.flatnonzero(counted & (scene.dt_image[scene.pair_dt] == image))
        dts, gts = np.unique(scene.pair_dt[sel]), np.unique(scene.pair_gt[sel])
        table = np.zeros((len(dts), len(gts)))
        table[np.searchsorted(dts, scene.pair_dt[sel]), np.searchsorted(gts, scene.pair_gt[sel])] = oks[sel]
        table = table[np.argsort(rank[dts], kind="stable")]  # candidates in ranking order
        used = np.zeros(len(dts), dtype=bool)
        for g in np.argsort(-table.max(axis=0), kind="stable") if len(dts) else []:
            free = np.flatnonzero((table[:, g] >= 0.5) & ~used)
            if not len(free):
                break
            best = free[np.argmax(table[free, g])]
            used[best] = True
            errors += int(len(free) > 1 and best != free[0])
    return errors


@pytest.mark.parametrize("seed,protocol,part", CASES)
def test_scoring_errors_equal_a_per_image_loop(seed, protocol, part):
    scene, oks = _scene(seed, protocol, part)
    rng = np.random.default_rng(seed)
    found = []
    for trial in range(4):
        value = oks.copy()
        if trial:  # OKS pushed up and tied, so that GT have several candidates and images stop early
            lifted = rng.random(len(value)) < 0.5
            value[lifted] = np.round(np.minimum(1.0, value[lifted] + rng.uniform(0, 0.6, lifted.sum())), 1)
        rank = rng.permutation(len(scene.dt)) if trial > 1 else scene.rank
        found.append(_ranking_errors(scene, value, rank))
        assert found[-1] == reference_ranking_errors(scene, value, rank)
    assert max(found) > 0
    # An image stops at its first GT left without a free candidate: A takes d1, B (d1 only) finds none, so C is
    # not served, though its best candidate d2 is not its best-ranked one d3.
    counted = ~scene.gt_ignored[0]
    for image in np.unique(scene.dt_image):
        people = np.flatnonzero(counted & (scene.gt.image_index == image))
        dts = np.flatnonzero(scene.dt_image == image)
        if len(people) >= 3 and len(dts) >= 3 and len(np.unique(scene.group[dts])) == 1:
            break
    else:
        pytest.fail("no image with three people and three predictions")
    (gt_a, gt_b, gt_c), (d1, d2, d3) = people[:3], dts[np.argsort(scene.rank[dts])][[2, 1, 0]]
    value = np.zeros(len(oks))
    for d, g, v in ((d1, gt_a, 0.9), (d1, gt_b, 0.8), (d2, gt_c, 0.7), (d3, gt_c, 0.6)):
        value[(scene.pair_dt == d) & (scene.pair_gt == g)] = v
    assert _ranking_errors(scene, value, scene.rank) == reference_ranking_errors(scene, value, scene.rank) == 0
    value[(scene.pair_dt == d1) & (scene.pair_gt == gt_b)] = 0.0  # now B is skipped and C is served: an error
    assert _ranking_errors(scene, value, scene.rank) == reference_ranking_errors(scene, value, scene.rank) == 1


@pytest.mark.parametrize("seed,protocol,part", CASES)
def test_rematching_the_changed_images_equals_matching_everything(seed, protocol, part):
    scene, oks = _scene(seed, protocol, part)
    rng = np.random.default_rng(seed)
    before = match(scene, oks, scene.rank, scene.gt_ignored)
    changed = np.flatnonzero(rng.random(len(oks)) < 0.1)
    after = oks.copy()
    after[changed] = rng.uniform(0.3, 1.0, len(changed))
    expected = match(scene, after, scene.rank, scene.gt_ignored)
    assert not np.array_equal(expected, before)
    assert np.array_equal(rematch(scene, before, after, scene.rank, scene.gt_ignored, changed), expected)
    assert np.array_equal(rematch(scene, before, oks, scene.rank, scene.gt_ignored, changed[:0]), before)


def reference_classes(scene, dt, gt, flip):
    """The class of every keypoint of each match, comparing it with every GT of the image as is and mirrored
    (rows in coco-analyze's order: the match's GT, the others, then the same mirrored; the first best wins)."""
    classes = np.full((len(dt), len(scene.columns)), -1)
    variances = (scene.sigmas * 2) ** 2
    for i, (d, g) in enumerate(zip(dt, gt)):
        people = np.flatnonzero(scene.gt.image_index == scene.gt.image_index[g])
        order = [g, *(h for h in people if h != g)]
        table = []
        for columns in (scene.columns, flip[scene.columns]):
            for h in order:
                kpts = scene.gt.keypoints[h, columns]
                d2 = ((scene.xy[d].astype(np.float64) - kpts[:, :2]) ** 2).sum(axis=1)
                ks = np.exp(-(d2 / variances / (scene.gt.area[h] + EPS) / 2))
                table.append(np.where(kpts[:, 2] > 0, ks, -1.0))
        table = np.array(table)  # (2 len(order), Kp)
        for k in np.flatnonzero(scene.gt_part[g, :, 2] > 0):
            row = int(np.argmax(table[:, k]))
            m = table[row, k]
            if m < 0.5:
                classes[i, k] = 4  # miss
            elif row == 0:
                classes[i, k] = 0 if m > 0.85 else (1 if m < 0.85 else -1)  # good, jitter (0.85 exactly: none)
            else:
                classes[i, k] = 2 if row == len(order) else 3  # inversion: the mirrored match's GT; else swap
    return classes


@pytest.mark.parametrize("seed,protocol,part", [*CASES, (4, "coco-wholebody", "left_hand")])
def test_keypoint_classes_equal_a_comparison_with_every_person(seed, protocol, part):
    """classify leaves out the rows that provably score below 0.5: the classes are those of every row.

    A third of each matched prediction's keypoints is moved next to another person's (swaps), a third onto
    its own person's mirrored keypoints (inversions)."""
    scene, oks = _scene(seed, protocol, part)
    flip = scene.proto.flip_map()
    located = match(scene, oks, scene.rank, scene.gt_ignored[:1], np.array([0.1]))[0, 0]
    dt = np.flatnonzero(located >= 0)
    rng = np.random.default_rng(seed)
    xy = scene.xy.copy()
    for d, g in zip(dt, located[dt]):
        others = np.flatnonzero(scene.gt.image_index == scene.gt.image_index[g])
        pick = rng.integers(0, 3, len(scene.columns))
        noise = rng.uniform(-2, 2, (len(scene.columns), 2))
        xy[d, pick == 1] = (scene.gt.keypoints[g, flip[scene.columns], :2] + noise)[pick == 1]
        xy[d, pick == 2] = (scene.gt.keypoints[rng.choice(others), scene.columns, :2] + noise)[pick == 2]
    scene = dataclasses.replace(scene, xy=xy)
    errors = classify(scene, dt, located[dt], flip)
    assert np.array_equal(errors.classes, reference_classes(scene, dt, located[dt], flip))
    assert (errors.classes == 3).any() and (errors.classes == 2).any()  # swaps and inversions found
