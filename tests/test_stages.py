"""Each stage on tiny hand-made arrays, with the expected values worked out here by hand.

The end-to-end parity tests compare whole evaluations with the official evaluators; these pin
down one convention at a time, so a failure names the stage and the rule that broke.
"""
import dataclasses
import json
import math

import numpy as np
import pytest

from halpe_eval.accumulate import accumulate, group_score_order, summarize
from halpe_eval.errors import InputError
from halpe_eval.match import Candidates, greedy_match, ignored_predictions, matched_oks, select_candidates
from halpe_eval.oks import BLOCK_PAIRS, EXP_UNDERFLOW, exp_in_place, pair_oks, similarity_exponent
from halpe_eval.protocol import COCO_STAT_NAMES, EvalParams, Statistic, cocoeval_range, load_protocol
from halpe_eval.protocol_schema import protocol_from_mapping

EPS = np.spacing(1)


def keypoint_similarity(sq_distance, sigma, area):
    """One keypoint's OKS term, written as in the COCO paper: exp(-d^2 / (2 (2 sigma)^2 (area + eps)))."""
    return math.exp(-sq_distance / (2 * (2 * sigma) ** 2 * (area + EPS)))


def oks_of_one_pair(prediction_xy, gt_keypoints, area, sigmas, bbox=(0.0, 0.0, 1.0, 1.0), dtype="float64"):
    """pair_oks for a single (prediction, GT) pair over all keypoints."""
    return pair_oks(
        dt_xy=np.array([prediction_xy], dtype=np.float64),
        gt_keypoints=np.array([gt_keypoints], dtype=np.float64),
        gt_area=np.array([area], dtype=np.float64),
        gt_bbox=np.array([bbox], dtype=np.float64),
        pair_dt=np.array([0]),
        pair_gt=np.array([0]),
        columns=slice(None),
        sigmas=np.array(sigmas),
        dtype=dtype,
    )[0]


# --- Stage 2: OKS -----------------------------------------------------------------------------


def test_similarity_exponent_follows_cocoevals_order_of_operations():
    sq_distance = np.array([[8.0, 2.0]])
    variances = np.array([4.0, 0.5])
    area = np.array([[3.0]])
    expected = [[8.0 / 4.0 / (3.0 + EPS) / 2, 2.0 / 0.5 / (3.0 + EPS) / 2]]
    assert similarity_exponent(sq_distance, variances, area).tolist() == expected


@pytest.mark.parametrize("underflowing", [0.0, 0.01, 0.5, 1.0])
def test_exp_in_place_is_numpys_exp_bit_for_bit(underflowing):
    rng = np.random.default_rng(7)
    x = -rng.exponential(30.0, 100_000)
    far = rng.random(len(x)) < underflowing
    x[far] = -rng.uniform(700, 1e6, far.sum())  # the subnormal band (-745, -708) included
    x[:9] = [-np.inf, np.nan, EXP_UNDERFLOW, np.nextafter(EXP_UNDERFLOW, 0), -745.13, -708.4, -0.0, 0.0, 700.0]
    expected = np.exp(x)
    got = exp_in_place(x.copy())
    numbers = ~np.isnan(expected)
    assert np.array_equal(got.view(np.int64)[numbers], expected.view(np.int64)[numbers])  # +0.0 where numpy's is
    assert np.array_equal(np.isnan(got), ~numbers)


def test_an_exact_prediction_has_oks_one():
    gt = [[10.0, 20.0, 2], [30.0, 40.0, 1], [50.0, 60.0, 2]]
    prediction = [[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]]
    assert oks_of_one_pair(prediction, gt, area=500.0, sigmas=[0.1, 0.2, 0.3]) == 1.0


def test_oks_of_a_known_offset_is_the_mean_over_labelled_keypoints():
    sigmas = [0.1, 0.2, 0.05]
    gt = [[10.0, 10.0, 2], [20.0, 20.0, 0], [30.0, 30.0, 1]]  # the middle keypoint is not labelled
    prediction = [[13.0, 14.0], [90.0, 90.0], [31.0, 30.0]]  # offsets 5 (3-4-5), far off (ignored), 1
    area = 100.0
    expected = (keypoint_similarity(25.0, sigmas[0], area) + keypoint_similarity(1.0, sigmas[2], area)) / 2
    assert oks_of_one_pair(prediction, gt, area, sigmas) == pytest.approx(expected, rel=1e-12)
    assert 0.2 < expected < 0.9  # the offsets are neither negligible nor overwhelming


def test_a_gt_without_labelled_keypoints_is_measured_to_its_doubled_box():
    # bbox x=10, y=20, w=30, h=40, doubled on every side: x in [-20, 70], y in [-20, 100].
    sigmas = [0.1, 0.2, 0.3]
    gt = [[0.0, 0.0, 0], [0.0, 0.0, 0], [0.0, 0.0, 0]]
    prediction = [[0.0, 50.0], [80.0, 50.0], [-23.0, 104.0]]  # inside; 10 right of it; 3 left and 4 below
    area = 1000.0
    expected = (1.0 + keypoint_similarity(100.0, sigmas[1], area) + keypoint_similarity(25.0, sigmas[2], area)) / 3
    got = oks_of_one_pair(prediction, gt, area, sigmas, bbox=(10.0, 20.0, 30.0, 40.0))
    assert got == pytest.approx(expected, rel=1e-12)


def test_float32_coordinates_take_differences_in_float32():
    gt = [[1000.1, 5.0, 2]]
    prediction = [[1000.3, 5.0]]
    sigma, area = 0.1, 0.5
    dx32 = np.float32(1000.3) - np.float32(1000.1)  # 0.2000122..., not 0.2
    expected32 = keypoint_similarity(float(dx32 * dx32), sigma, area)
    expected64 = keypoint_similarity((1000.3 - 1000.1) ** 2, sigma, area)
    got32 = oks_of_one_pair(prediction, gt, area, [sigma], dtype="float32")
    got64 = oks_of_one_pair(prediction, gt, area, [sigma], dtype="float64")
    assert got32 == pytest.approx(expected32, rel=1e-12)
    assert got64 == pytest.approx(expected64, rel=1e-12)
    assert abs(got32 - got64) > 1e-5


def test_oks_uses_only_the_parts_columns_and_the_parts_sigmas():
    gt = np.array([[[0.0, 0.0, 2], [10.0, 0.0, 2], [20.0, 0.0, 2]]])
    prediction = np.array([[[0.0, 3.0], [10.0, 99.0], [20.0, 1.0]]])  # keypoint 1 is far off but not in the part
    area, sigmas = 50.0, [0.2, 0.1]
    got = pair_oks(prediction, gt, np.array([area]), np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([0]), np.array([0]),
                   columns=np.array([0, 2]), sigmas=np.array(sigmas))
    expected = (keypoint_similarity(9.0, sigmas[0], area) + keypoint_similarity(1.0, sigmas[1], area)) / 2
    assert got[0] == pytest.approx(expected, rel=1e-12)


def test_oks_in_several_blocks_equals_pair_by_pair():
    n_pairs = 2 * BLOCK_PAIRS + 3  # three blocks, run on the thread pool
    offsets = np.arange(n_pairs) * 0.01
    predictions = np.stack([offsets, np.zeros(n_pairs)], axis=1)[:, None, :]  # (D, 1, 2): x offset from the GT
    gt = np.array([[[0.0, 0.0, 2]], [[0.0, 0.0, 2]]])
    areas = np.array([100.0, 400.0])
    pair_gt = np.arange(n_pairs) % 2
    got = pair_oks(predictions, gt, areas, np.zeros((2, 4)), np.arange(n_pairs), pair_gt, slice(None),
                   np.array([0.1]))
    expected = [keypoint_similarity(d * d, 0.1, areas[g]) for d, g in zip(offsets, pair_gt)]
    assert got == pytest.approx(expected, rel=1e-12)


# --- Stage 3: selection and matching ----------------------------------------------------------


def test_group_score_order_is_lexsorts_order_with_ties_nan_and_signed_zeros():
    rng = np.random.default_rng(3)
    for trial in range(200):
        n = int(rng.integers(0, 200))
        group = rng.integers(0, int(rng.integers(1, 6)), n)
        score = rng.choice([0.0, -0.0, 0.25, 0.5, 1.0, -1.0, np.nan], n) if trial % 2 else rng.random(n)
        expected = np.lexsort((np.arange(n), -score, group))
        assert np.array_equal(group_score_order(group, score), expected), trial
    huge = np.array([2**62, 0, 2**62]), np.array([0.5, 0.5, 0.7])  # keys past int64: lexsort itself
    assert group_score_order(*huge).tolist() == [1, 2, 0]


def test_select_candidates_keeps_the_top_predictions_per_image_with_ties_in_file_order():
    dt_group = np.array([1, 0, 0, 1, 0, 0, 0])
    dt_score = np.array([0.2, 0.5, 0.9, 0.8, 0.5, 0.7, 0.5])
    keep = np.array([True, True, True, False, True, True, True])  # #3 is dropped before ranking
    gt_group = np.array([1, 0, 1, 2])  # GT #3 is on an image without predictions
    cand = select_candidates(dt_group, dt_score, keep, 3, gt_group)
    # Image 0: 0.9 (#2), 0.7 (#5), then the first of the three 0.5s in file order (#1); #4 and #6 are cut.
    assert cand.dt.tolist() == [2, 5, 1, 0]
    assert cand.rank.tolist() == [0, 1, 2, 0]
    # Every candidate is paired with each GT of its image, GT in file order.
    assert cand.pair_dt.tolist() == [0, 1, 2, 3, 3]
    assert cand.pair_gt.tolist() == [1, 1, 1, 0, 2]


def test_select_candidates_with_no_prediction_kept():
    cand = select_candidates(np.array([0, 0]), np.array([0.5, 0.6]), np.array([False, False]), 20, np.array([0]))
    assert len(cand.dt) == len(cand.rank) == len(cand.pair_dt) == len(cand.pair_gt) == 0


def one_image(n_predictions, oks_rows):
    """Candidates of one image, ranked in the given order, with every prediction paired with every GT."""
    n_gt = len(oks_rows[0])
    cand = Candidates(
        dt=np.arange(n_predictions),
        rank=np.arange(n_predictions),
        pair_dt=np.repeat(np.arange(n_predictions), n_gt),
        pair_gt=np.tile(np.arange(n_gt), n_predictions),
    )
    return cand, np.array(oks_rows, dtype=np.float64).ravel()


def match(oks_rows, thresholds, ignored=None, crowd=None):
    """greedy_match on one image; ``ignored`` is one row per area range (default: one range, none ignored)."""
    cand, oks = one_image(len(oks_rows), oks_rows)
    n_gt = len(oks_rows[0])
    gt_ignored = np.array(ignored if ignored is not None else [[False] * n_gt])
    gt_crowd = np.array(crowd if crowd is not None else [False] * n_gt)
    return greedy_match(cand, oks, gt_ignored, gt_crowd, np.array(thresholds))


def test_greedy_match_takes_the_gt_with_the_highest_oks_and_returns_minus_one_below_the_threshold():
    matched = match([[0.6, 0.8]], thresholds=[0.5, 0.7, 0.85])
    assert matched.shape == (1, 3, 1)
    assert matched[0, :, 0].tolist() == [1, 1, -1]


def _greedy_literally(cand, oks, gt_ignored, gt_crowd, thresholds):
    """cocoeval.evaluateImg's loop, one prediction at a time in rank order within its image."""
    n_area, n_gt = gt_ignored.shape
    matched = np.full((n_area, len(thresholds), len(cand.dt)), -1)
    for a in range(n_area):
        for t, threshold in enumerate(np.minimum(thresholds, 1 - 1e-10)):
            taken = set()
            for d in sorted(range(len(cand.dt)), key=lambda d: cand.rank[d]):
                pairs = np.flatnonzero(cand.pair_dt == d)
                # GT in file order, the non-ignored first (cocoeval's mergesort on _ignore)
                pairs = sorted(pairs, key=lambda p: (gt_ignored[a, cand.pair_gt[p]], cand.pair_gt[p]))
                best, best_oks = -1, threshold
                for p in pairs:
                    g = cand.pair_gt[p]
                    if g in taken and not gt_crowd[g]:
                        continue
                    if best >= 0 and not gt_ignored[a, best] and gt_ignored[a, g]:
                        break
                    if oks[p] < best_oks:
                        continue
                    best, best_oks = g, oks[p]
                if best >= 0:
                    matched[a, t, d] = best
                    taken.add(best)
    return matched


def test_greedy_match_equals_cocoevals_loop_with_ties_crowds_and_ignored_gt():
    rng = np.random.default_rng(11)
    for trial in range(150):
        n_images, n_gt, n_dt = int(rng.integers(1, 5)), int(rng.integers(0, 10)), int(rng.integers(0, 25))
        gt_image, dt_image = rng.integers(0, n_images, n_gt), rng.integers(0, n_images, n_dt)
        cand = select_candidates(dt_image, rng.choice([0.2, 0.6, 0.9], n_dt), np.ones(n_dt, bool),
                                 int(rng.integers(1, 6)), gt_image)
        oks = rng.choice([0.0, 0.5, 0.55, 0.7, 0.7, 0.95, 1.0], len(cand.pair_gt))  # ties on purpose
        ignored, crowd = rng.random((3, n_gt)) < 0.3, rng.random(n_gt) < 0.2
        thresholds = np.linspace(0.5, 0.95, 10)
        expected = _greedy_literally(cand, oks, ignored, crowd, thresholds)
        assert np.array_equal(greedy_match(cand, oks, ignored, crowd, thresholds), expected), trial


def test_greedy_match_threshold_is_inclusive():
    assert match([[0.5]], thresholds=[0.5])[0, 0].tolist() == [0]
    assert match([[np.nextafter(0.5, 0)]], thresholds=[0.5])[0, 0].tolist() == [-1]


def test_greedy_match_serves_predictions_in_rank_order_and_a_taken_gt_is_gone():
    # Rank 0 takes GT 1 (0.8); rank 1 would prefer GT 1 too (0.9) but gets GT 0 (0.6) at 0.5, nothing at 0.7.
    matched = match([[0.6, 0.8], [0.6, 0.9]], thresholds=[0.5, 0.7])
    assert matched[0].tolist() == [[1, 0], [1, -1]]


def test_greedy_match_prefers_a_gt_that_is_not_ignored():
    # GT 1 fits better but is ignored in area range 0; in range 1 both are ignored and the better one wins.
    matched = match([[0.6, 0.9]], thresholds=[0.5], ignored=[[False, True], [True, True]])
    assert matched[:, 0, 0].tolist() == [0, 1]


def test_a_crowd_gt_absorbs_several_predictions():
    oks_rows = [[0.7], [0.7], [0.7]]
    assert match(oks_rows, [0.5], ignored=[[True]], crowd=[True])[0, 0].tolist() == [0, 0, 0]
    assert match(oks_rows, [0.5], ignored=[[True]], crowd=[False])[0, 0].tolist() == [0, -1, -1]


def test_among_equal_oks_the_last_listed_gt_wins():
    matched = match([[0.75, 0.75, 0.75], [0.75, 0.75, 0.75]], thresholds=[0.5])
    assert matched[0, 0].tolist() == [2, 1]


def test_a_prediction_is_ignored_when_matched_to_an_ignored_gt_or_unmatched_outside_the_area_range():
    matched = np.array([[[0, 1, -1, -1]]])  # one area range, one threshold, four predictions
    gt_ignored = np.array([[False, True]])
    outside = np.array([[True, False, True, False]])
    # #0 counts though outside (its GT is not ignored); #1 matched an ignored GT; #2 unmatched and outside.
    assert ignored_predictions(matched, gt_ignored, outside).tolist() == [[[False, True, True, False]]]


def test_without_any_gt_only_the_area_range_ignores_a_prediction():
    matched = np.full((2, 1, 2), -1)
    outside = np.array([[False, True], [True, True]])
    ignored = ignored_predictions(matched, np.zeros((2, 0), dtype=bool), outside)
    assert ignored.tolist() == [[[False, True]], [[True, True]]]


def test_matched_oks_looks_up_the_pair_of_each_match():
    # Two predictions on an image holding GT #3 and #5 of six; the pairs in no particular order.
    cand = Candidates(dt=np.array([0, 1]), rank=np.array([0, 1]), pair_dt=np.array([1, 0, 1, 0]),
                      pair_gt=np.array([5, 5, 3, 3]))
    oks = np.array([0.55, 0.93, 0.72, 0.61])
    matched = np.array([[5, 3], [5, -1]])  # threshold x prediction
    got = matched_oks(cand, oks, matched, n_gt=6)
    assert got[:, 0].tolist() == [0.93, 0.93]
    assert got[0, 1] == 0.72
    assert np.isnan(got[1, 1])


# --- Stage 4: precision, recall and the statistics --------------------------------------------


def precision_recall(
    scores: np.ndarray,
    sort_key: np.ndarray,
    true_pos: np.ndarray,
    ignored: np.ndarray,
    n_positive: np.ndarray,
    recall_thresholds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """accumulate() for one category whose GT are ``n_positive[a]`` non-ignored records in area range a,
    predictions ordered by score descending, then ``sort_key``.

    ``scores`` (N,) and ``sort_key`` (N,) order the predictions (score desc, then key);
    ``true_pos`` / ``ignored`` are [A x T x N]; ``n_positive`` (A,) counts non-ignored GT.
    Returns precision [T x R x A], recall [T x A], score at each recall threshold [T x R x A].
    """
    order = np.lexsort((sort_key, -scores))
    n_area = true_pos.shape[0]
    # One category whose GT are n_positive[a] non-ignored records in area range a.
    most = int(np.max(n_positive)) if len(n_positive) else 0
    gt_ignored = np.arange(most)[None, :] >= np.asarray(n_positive)[:, None]
    precision, recall, score_at = accumulate(scores[order], np.zeros(len(order), dtype=np.int64),
                                             true_pos[:, :, order], ignored[:, :, order],
                                             gt_ignored.reshape(n_area, most), np.zeros(most, dtype=np.int64), 1,
                                             recall_thresholds)
    return precision[:, :, 0], recall[:, 0], score_at[:, :, 0]


def test_precision_recall_of_tp_fp_tp_with_two_gt():
    # Given out of score order: the stage sorts them (0.9 TP, 0.8 FP, 0.7 TP).
    scores = np.array([0.8, 0.7, 0.9])
    true_pos = np.array([[[False, True, True]]])  # area x threshold x prediction
    ignored = np.zeros_like(true_pos)
    recall_points = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    precision, recall, score_at = precision_recall(scores, np.arange(3), true_pos, ignored, np.array([2]),
                                                   recall_points)
    # Cumulative recall 1/2, 1/2, 1; precision 1, 1/2, 2/3, made monotone from the right: 1, 2/3, 2/3.
    # Recall point r takes the first prediction whose recall reaches r.
    assert precision[0, :, 0] == pytest.approx([1, 1, 1, 2 / 3, 2 / 3], rel=1e-12)
    assert recall[0, 0] == 1.0
    assert score_at[0, :, 0].tolist() == [0.9, 0.9, 0.9, 0.7, 0.7]


def test_precision_is_the_best_precision_at_any_higher_recall():
    # FP, TP, TP with two GT: recall 0, 1/2, 1 at precision 0, 1/2, 2/3; the envelope lifts all to 2/3.
    true_pos = np.array([[[False, True, True]]])
    precision, _, _ = precision_recall(np.array([0.9, 0.8, 0.7]), np.arange(3), true_pos, np.zeros_like(true_pos),
                                       np.array([2]), np.array([0.0, 0.5, 1.0]))
    assert precision[0, :, 0] == pytest.approx([2 / 3, 2 / 3, 2 / 3], rel=1e-12)


def test_precision_is_zero_past_the_last_recall_reached():
    true_pos = np.array([[[True, False]]])
    precision, recall, _ = precision_recall(np.array([0.9, 0.8]), np.arange(2), true_pos,
                                            np.zeros_like(true_pos), np.array([2]), np.array([0.5, 0.75, 1.0]))
    assert precision[0, :, 0] == pytest.approx([1, 0, 0], rel=1e-12)
    assert recall[0, 0] == 0.5


def test_ignored_predictions_count_neither_way():
    recall_points = np.array([0.0, 0.5, 1.0])
    plain = precision_recall(np.array([0.9, 0.7]), np.arange(2), np.array([[[True, False]]]),
                             np.array([[[False, False]]]), np.array([1]), recall_points)
    with_ignored = precision_recall(np.array([0.9, 0.8, 0.7]), np.arange(3), np.array([[[True, False, False]]]),
                                    np.array([[[False, True, False]]]), np.array([1]), recall_points)
    assert with_ignored[0].tolist() == plain[0].tolist()
    assert with_ignored[1].tolist() == plain[1].tolist()


def test_equal_scores_are_ordered_by_the_sort_key():
    # Same score: the sort key puts the FP first (recall 1 reached at precision 1/2) or the TP first (precision 1).
    scores, true_pos = np.array([0.5, 0.5]), np.array([[[True, False]]])
    at_full_recall = np.array([1.0])
    fp_first, _, _ = precision_recall(scores, np.array([1, 0]), true_pos, np.zeros_like(true_pos), np.array([1]),
                                      at_full_recall)
    tp_first, _, _ = precision_recall(scores, np.array([0, 1]), true_pos, np.zeros_like(true_pos), np.array([1]),
                                      at_full_recall)
    assert fp_first[0, 0, 0] == pytest.approx(0.5, rel=1e-12)
    assert tp_first[0, 0, 0] == pytest.approx(1.0, rel=1e-12)


def test_precision_recall_without_gt_is_undefined_and_without_predictions_is_zero():
    empty = np.zeros((2, 1, 0), dtype=bool)  # two area ranges, one threshold, no prediction
    precision, recall, _ = precision_recall(np.zeros(0), np.zeros(0), empty, empty, np.array([0, 3]),
                                            np.array([0.0, 1.0]))
    assert precision[0, :, 0].tolist() == [-1, -1]
    assert recall[0].tolist() == [-1, 0]
    assert precision[0, :, 1].tolist() == [0, 0]


def test_accumulate_scores_each_category_against_its_own_gt():
    # Category 0: one TP for its one GT.  Category 1: one FP; of its two GT one is ignored, so one counts.
    # Category 2: no GT, no prediction.
    true_pos = np.array([[[True, False]]])
    precision, recall, scores = accumulate(
        score=np.array([0.4, 0.9]),
        category=np.array([0, 1]),
        true_pos=true_pos,
        dt_ignored=np.zeros_like(true_pos),
        gt_ignored=np.array([[False, False, True]]),
        gt_category=np.array([0, 1, 1]),
        n_categories=3,
        recall_thresholds=np.array([0.0, 1.0]),
    )
    assert precision.shape == scores.shape == (1, 2, 3, 1)
    assert precision[0, :, :, 0].T.tolist() == [[pytest.approx(1.0), pytest.approx(1.0)], [0, 0], [-1, -1]]
    assert recall[0, :, 0].tolist() == [1.0, 0.0, -1]
    assert scores[0, :, 0, 0].tolist() == [0.4, 0.4]


def small_params():
    """Two OKS thresholds, three recall points, area ranges 'all' and 'small', five custom statistics."""
    return EvalParams(
        area_ranges=(("all", 0.0, 1e10), ("small", 0.0, 32.0**2)),
        oks_thresholds=(0.5, 0.75),
        recall_thresholds=(0.0, 0.5, 1.0),
        statistics=(
            Statistic("AP", "AP", "all"),
            Statistic("AP75", "AP", "all", 0.75),
            Statistic("APsmall50", "AP", "small", 0.5),
            Statistic("AR", "AR", "all"),
            Statistic("ARsmall", "AR", "small"),
        ),
    )


def test_summarize_honours_custom_area_ranges_and_statistics():
    precision = -np.ones((2, 3, 1, 2))  # threshold x recall point x category x area; 'small' stays undefined
    precision[0, :, 0, 0] = [1.0, 0.5, 0.0]
    precision[1, :, 0, 0] = [0.5, 0.25, -1]  # -1 entries are left out of the mean
    recall = -np.ones((2, 1, 2))
    recall[:, 0, 0] = [0.8, 0.4]
    stats = summarize(precision, recall, small_params())
    assert list(stats) == ["AP", "AP75", "APsmall50", "AR", "ARsmall"]
    assert stats["AP"] == pytest.approx((1.0 + 0.5 + 0.0 + 0.5 + 0.25) / 5, rel=1e-12)
    assert stats["AP75"] == pytest.approx((0.5 + 0.25) / 2, rel=1e-12)
    assert stats["APsmall50"] is None
    assert stats["AR"] == pytest.approx(0.6, rel=1e-12)
    assert stats["ARsmall"] is None


def test_summarize_with_cocos_ten_statistics():
    params = EvalParams()
    precision = np.empty((10, 101, 1, 3))
    precision[:] = (np.arange(10) / 10)[:, None, None, None]  # precision t / 10 at threshold index t
    precision[..., 1] = -1  # nothing defined for medium people
    recall = np.full((10, 1, 3), 0.5)
    recall[9, 0, 2] = 1.0
    stats = summarize(precision, recall, params)
    assert tuple(stats) == COCO_STAT_NAMES
    assert stats["AP"] == pytest.approx(0.45, rel=1e-12)
    assert stats["AP50"] == 0.0
    assert stats["AP75"] == pytest.approx(0.5, rel=1e-12)
    assert stats["APm"] is None
    assert stats["APl"] == pytest.approx(0.45, rel=1e-12)
    assert stats["ARl"] == pytest.approx((9 * 0.5 + 1.0) / 10, rel=1e-12)


# --- Protocol parameters and the protocol schema ----------------------------------------------


def test_cocoeval_range_is_bit_identical_to_cocoevals_linspace():
    cocoeval = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
    ours = np.array(cocoeval_range(0.5, 0.95, 0.05))
    assert ours.tobytes() == cocoeval.tobytes()
    assert ours.tobytes() != np.array([0.5 + 0.05 * i for i in range(10)]).tobytes()  # the naive sum differs
    recall_points = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
    assert np.array(EvalParams().recall_thresholds).tobytes() == recall_points.tobytes()
    assert np.array(EvalParams().oks_thresholds).tobytes() == cocoeval.tobytes()


def test_threshold_index_finds_the_threshold_or_says_which_exist():
    params = EvalParams()
    assert params.threshold_index(0.75) == 5
    with pytest.raises(ValueError, match="0.55"):
        params.threshold_index(0.52)


def tiny_protocol(**fields):
    """A valid three-keypoint protocol mapping, with ``fields`` added or replaced."""
    base = {"name": "tiny", "keypoints": ["a", "b", "c"], "sigmas": [0.1, 0.2, 0.3], "parts": {"all": [0, 1, 2]}}
    return {**base, **fields}


def schema_error(mapping):
    with pytest.raises(InputError) as caught:
        protocol_from_mapping(mapping, source="mine.toml")
    message = str(caught.value)
    assert message.startswith("mine.toml: protocol ")
    return message.replace("'", "")  # the field path may be quoted in part: compare without quotes


def test_schema_error_names_the_area_range():
    message = schema_error(tiny_protocol(area_ranges={"all": [0, 1e10], "medium": [9216, 1024]}))
    assert "area_ranges.medium" in message


@pytest.mark.parametrize(("statistic", "path"), [
    ({"measure": "AP", "area": "tiny"}, "statistics.X.area"),
    ({"measure": "mAP", "area": "all"}, "statistics.X.measure"),
    ({"measure": "AR", "area": "all", "oks": 0.62}, "statistics.X.oks"),  # not one of 0.50:0.05:0.95
])
def test_schema_error_names_the_statistic_and_its_field(statistic, path):
    assert path in schema_error(tiny_protocol(statistics={"X": statistic}))


def test_custom_area_ranges_without_statistics_name_the_statistic_that_needs_a_missing_range():
    message = schema_error(tiny_protocol(area_ranges={"all": [0, 1e10], "small": [0, 1024]}))
    assert "APm" in message and "medium" in message


def test_a_protocol_file_with_custom_area_ranges_and_statistics_loads(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_protocol(
        area_ranges={"all": [0, 1e10], "small": [0, 1024]},
        oks_thresholds={"start": 0.5, "stop": 0.75, "step": 0.25},
        recall_thresholds={"start": 0.0, "stop": 1.0, "step": 0.5},
        max_detections=5,
        statistics={
            "AP": {"measure": "AP", "area": "all"},
            "AP75": {"measure": "AP", "area": "all", "oks": 0.75},
            "APsmall50": {"measure": "AP", "area": "small", "oks": 0.5},
            "AR": {"measure": "AR", "area": "all"},
            "ARsmall": {"measure": "AR", "area": "small"},
        },
    )))
    protocol = load_protocol(str(path))
    assert protocol.name == "tiny"
    assert protocol.params == dataclasses.replace(small_params(), max_detections=5)
    assert protocol.params.stat_names == ("AP", "AP75", "APsmall50", "AR", "ARsmall")
    assert protocol.max_detections == 5


def _cocoeval_accumulate(score, category, true_pos, dt_ignored, gt_ignored, gt_category, n_categories, rec_thr):
    """cocoeval.accumulate written out literally (per category, area range and threshold, Python lists)."""
    n_area, n_thr, _ = true_pos.shape
    precision = -np.ones((n_thr, len(rec_thr), n_categories, n_area))
    scores = -np.ones((n_thr, len(rec_thr), n_categories, n_area))
    recall = -np.ones((n_thr, n_categories, n_area))
    for k in range(n_categories):
        sel = np.flatnonzero(category == k)
        inds = np.argsort(-score[sel], kind="mergesort")
        sorted_scores = score[sel][inds]
        for a in range(n_area):
            npig = int(np.count_nonzero(~gt_ignored[a][gt_category == k]))
            if npig == 0:
                continue
            dtm, dtig = true_pos[a][:, sel][:, inds], dt_ignored[a][:, sel][:, inds]
            tp_sum = np.cumsum(dtm & ~dtig, axis=1).astype(float)
            fp_sum = np.cumsum(~dtm & ~dtig, axis=1).astype(float)
            for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                nd = len(tp)
                rc, pr = tp / npig, tp / (fp + tp + np.spacing(1))
                q, ss = [0.0] * len(rec_thr), [0.0] * len(rec_thr)
                recall[t, k, a] = rc[-1] if nd else 0
                pr = pr.tolist()
                for i in range(nd - 1, 0, -1):
                    if pr[i] > pr[i - 1]:
                        pr[i - 1] = pr[i]
                for ri, pi in enumerate(np.searchsorted(rc, rec_thr, side="left")):
                    if pi >= nd:
                        break
                    q[ri], ss[ri] = pr[pi], sorted_scores[pi]
                precision[t, :, k, a], scores[t, :, k, a] = q, ss
    return precision, recall, scores


@pytest.mark.parametrize("seed", range(40))
def test_accumulate_equals_cocoeval_written_out(seed):
    """Random categories, ties in score, ignored predictions and GT, empty categories: bit-identical."""
    rng = np.random.default_rng(seed)
    n, n_gt, n_cat = int(rng.integers(0, 60)), int(rng.integers(0, 12)), int(rng.integers(1, 4))
    n_area, n_thr = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    score = rng.choice([0.1, 0.5, 0.9], n) if seed % 2 else rng.random(n)  # odd seeds: many ties
    category = rng.integers(0, n_cat, n)
    true_pos = rng.random((n_area, n_thr, n)) < 0.4
    dt_ignored = rng.random((n_area, n_thr, n)) < 0.2
    gt_ignored = rng.random((n_area, n_gt)) < 0.3
    gt_category = rng.integers(0, n_cat, n_gt)
    rec_thr = np.linspace(0, 1, 101)
    ours = accumulate(score, category, true_pos, dt_ignored, gt_ignored, gt_category, n_cat, rec_thr)
    theirs = _cocoeval_accumulate(score, category, true_pos, dt_ignored, gt_ignored, gt_category, n_cat, rec_thr)
    for mine, oracle in zip(ours, theirs):
        assert mine.tobytes() == oracle.tobytes()


def _compute_oks_written_out(dt, gt_kp, area, bbox, sigmas, coord):
    """cocoeval.computeOks for one (prediction, GT) pair, written out as the oracle runs it."""
    variances = (np.asarray(sigmas) * 2) ** 2
    xd, yd = dt[:, 0].astype(coord), dt[:, 1].astype(coord)
    xg, yg, vg = gt_kp[:, 0].astype(coord), gt_kp[:, 1].astype(coord), gt_kp[:, 2]
    if np.count_nonzero(vg > 0) > 0:
        dx, dy = xd - xg, yd - yg
    else:
        x0, x1 = coord.type(bbox[0] - bbox[2]), coord.type(bbox[0] + bbox[2] * 2)
        y0, y1 = coord.type(bbox[1] - bbox[3]), coord.type(bbox[1] + bbox[3] * 2)
        z = np.zeros(len(sigmas))  # float64, as the oracle's
        dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
        dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
    if np.count_nonzero(vg > 0) > 0:
        e = e[vg > 0]
    return np.sum(np.exp(-e)) / e.shape[0]


@pytest.mark.parametrize("seed", range(30))
def test_pair_oks_equals_compute_oks_written_out(seed):
    """Random labelling patterns (every count, none labelled), both coordinate dtypes, slices and index
    lists of columns, enough pairs for several blocks: bit-identical to the per-pair formula."""
    rng = np.random.default_rng(seed)
    n_dt, n_gt, k = int(rng.integers(1, 30)), int(rng.integers(1, 12)), int(rng.integers(1, 25))
    coord = np.dtype("float32" if seed % 2 else "float64")
    dt_xy = (rng.random((n_dt, k, 2)) * 100).astype(coord)
    labelled = rng.random((n_gt, k, 1)) < rng.random()
    gt_keypoints = np.concatenate([rng.random((n_gt, k, 2)) * 100, labelled * 2.0], axis=2)
    area, bbox = rng.random(n_gt) * 900 + 1, rng.random((n_gt, 4)) * 60
    columns = sorted(rng.choice(k, int(rng.integers(1, k + 1)), replace=False)) if seed % 3 else slice(0, k)
    cols = np.arange(k)[columns]
    sigmas = rng.random(len(cols)) * 0.1 + 0.01
    n_pairs = int(rng.integers(0, 3 * BLOCK_PAIRS))
    pair_dt, pair_gt = rng.integers(0, n_dt, n_pairs), rng.integers(0, n_gt, n_pairs)
    ours = pair_oks(dt_xy, gt_keypoints, area, bbox, pair_dt, pair_gt, columns, sigmas, coord.name)
    for i in rng.choice(n_pairs, min(n_pairs, 300), replace=False) if n_pairs else []:
        d, g = pair_dt[i], pair_gt[i]
        expected = _compute_oks_written_out(dt_xy[d][cols], gt_keypoints[g][cols], area[g], bbox[g], sigmas, coord)
        assert ours[i] == expected


@pytest.mark.parametrize("shape", [(0, 17), (1, 1), (2200, 17), (5000, 17), (300, 136), (700, 133)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_keypoint_extent_is_each_rows_least_and_greatest_x_and_y(shape, dtype, monkeypatch):
    """The box and area of each prediction's keypoints, reduced a block of rows at a time (blocks kept small here,
    so that several rows of blocks and a short last one are met): equal to numpy's per-row min and max, and the
    area to loadRes' (x1 - x0) * (y1 - y0), whatever the (N, K, 2 or 3) layout."""
    import halpe_eval.oks as oks
    from halpe_eval.protocol import load_protocol
    from halpe_eval.reading.records import keypoint_area

    monkeypatch.setattr(oks, "EXTENT_BLOCK", 4096)
    rng = np.random.default_rng(shape[0])
    keypoints = (rng.normal(size=(*shape, 3)) * rng.choice([1.0, 1e3, 1e7], size=(shape[0], 1, 1))).astype(dtype)
    keypoints[::7, 0, :2] = -0.0  # signed zeros and ties
    least, greatest = oks.keypoint_extent(keypoints)
    x, y = keypoints[:, :, 0], keypoints[:, :, 1]
    expected_least = np.stack([x.min(axis=1), y.min(axis=1)], axis=1) if shape[0] else np.zeros((0, 2))
    expected_greatest = np.stack([x.max(axis=1), y.max(axis=1)], axis=1) if shape[0] else np.zeros((0, 2))
    assert least.dtype == greatest.dtype == keypoints.dtype
    assert np.array_equal(least, expected_least) and np.array_equal(greatest, expected_greatest)
    assert np.array_equal(oks.keypoint_boxes(keypoints[:, :, :2]),
                          np.concatenate([expected_least, expected_greatest], axis=1).astype(np.float64))
    if shape[1] == 17 and dtype == "float64":
        flat = keypoints.reshape(shape[0], 51).tolist()
        written_out = [(max(r[0::3]) - min(r[0::3])) * (max(r[1::3]) - min(r[1::3])) for r in flat]
        assert keypoint_area(keypoints, load_protocol("coco17")).tolist() == written_out


@pytest.mark.parametrize("seed", range(30))
def test_oks_upper_bound_never_falls_below_the_oks(seed):
    """The box-gap bound that lets wide parts skip hopeless pairs: on random skeletons (far, near, touching;
    coordinates up to 1e7 rounded to float32 inside the OKS as halpecocotools rounds them; areas from 1e-3 to
    1e8, so that disjoint boxes can still score near 0.5; a third of the GT with no labelled keypoint, measured
    to their doubled box) no pair's OKS exceeds its bound."""
    from halpe_eval.oks import gt_part_boxes, keypoint_boxes, oks_upper_bound

    rng = np.random.default_rng(seed)
    n_dt, n_gt, k = 40, 15, int(rng.integers(1, 40))
    coord = "float32" if seed % 2 else "float64"
    scale = rng.choice([1.0, 1e3, 1e7])
    centres = rng.random((n_dt + n_gt, 1, 2)) * 200 * scale
    spread = rng.choice([1e-3, 0.5, 5, 50], size=(n_dt + n_gt, 1, 1)) * scale
    points = centres + rng.normal(size=(n_dt + n_gt, k, 2)) * spread
    dt_xy = points[:n_dt]  # float64, as predictions are stored; pair_oks rounds to ``coord``
    labelled = (rng.random((n_gt, k, 1)) < 0.7) & (rng.random((n_gt, 1, 1)) < 0.67)
    gt_keypoints = np.concatenate([points[n_dt:], labelled * 2.0], axis=2)
    area = rng.choice([1e-3, 1.0, 1e4, 1e8], n_gt) * rng.random(n_gt) * scale**2
    bbox = np.concatenate([gt_keypoints[:, 0, :2], rng.choice([0.0, 1e-3, 1.0, 10.0], (n_gt, 2)) * scale], axis=1)
    sigmas = rng.random(k) * 0.1 + 0.005
    pair_dt, pair_gt = np.repeat(np.arange(n_dt), n_gt), np.tile(np.arange(n_gt), n_dt)
    oks = pair_oks(dt_xy, gt_keypoints, area, bbox, pair_dt, pair_gt, slice(0, k), sigmas, coord)
    bound = oks_upper_bound(keypoint_boxes(dt_xy)[pair_dt], gt_part_boxes(gt_keypoints, bbox, range(k))[pair_gt],
                            sigmas, area[pair_gt])
    assert (oks <= bound).all()
    unlabelled = ~labelled[pair_gt, :, 0].any(axis=1)
    assert (bound[unlabelled] < 0.5).any()  # GT without labelled keypoints are bounded too, not left at 1
    assert (bound < 0.5).any() and (bound >= 0.5).any()  # the cases span both sides of the lowest threshold


@pytest.mark.parametrize("protocol", ["halpe136", "coco-wholebody", "coco17"])
def test_pruned_pairs_change_nothing(protocol, monkeypatch):
    """Wide parts skip pairs the bound rules out; with pruning switched off every array is the same."""
    import halpe_eval.oks as oks
    import halpe_eval.pipeline as pipeline
    from halpe_eval import evaluate
    from halpe_eval.synthetic import SynthOptions, make_dataset

    gt, preds = make_dataset(5, protocol, SynthOptions(num_images=30, false_positives=4.0))
    skipped = []
    bound = pipeline.oks_upper_bound

    def counting_bound(*args):
        values = bound(*args)
        skipped.append(int((values < 0.5 * (1 - 1e-3)).sum()))
        return values

    monkeypatch.setattr(pipeline, "oks_upper_bound", counting_bound)
    pruned = evaluate(gt, preds, protocol)
    assert sum(skipped) > 0
    monkeypatch.setattr(oks, "PRUNED_FROM_KEYPOINTS", 10**6)
    full = evaluate(gt, preds, protocol)
    for part in full.parts:
        for name in ("precision", "recall", "scores"):
            assert getattr(pruned.parts[part], name).tobytes() == getattr(full.parts[part], name).tobytes()
