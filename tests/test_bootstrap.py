"""--bootstrap: counting again under image weights is exact, the intervals cover, the output is deterministic."""
import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest

from halpe_eval import evaluate
from halpe_eval.bootstrap import bootstrap, percentile_interval, resample_weights, resampled_stats
from halpe_eval.synthetic import SynthOptions, make_dataset
from halpe_eval.weighted import prepare, weighted_stats

from conftest import require_oracle, run_cli as run, shifted_predictions

TIED = SynthOptions(num_images=30, score_decimals=1)  # one decimal: many score ties, within and across images


def _values(stats: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in stats.values()])


def duplicated(gt: dict, preds: list, weights: np.ndarray) -> tuple:
    """The dataset in which the image of rank i (by id, the evaluation's image order) appears weights[i] times:
    copies get consecutive new ids, so they follow each other in image order, with their GT and predictions."""
    ids = sorted(image["id"] for image in gt["images"])
    stride = int(weights.max()) + 1
    copies = {image_id: [rank * stride + c + 1 for c in range(int(weights[rank]))] for rank, image_id in enumerate(ids)}
    images = {image["id"]: image for image in gt["images"]}
    anns, dets = {}, {}
    for ann in gt["annotations"]:
        anns.setdefault(ann["image_id"], []).append(ann)
    for det in preds:
        dets.setdefault(det["image_id"], []).append(det)
    new_anns = [dict(ann, image_id=new) for i in ids for new in copies[i] for ann in anns.get(i, [])]
    for number, ann in enumerate(new_anns, start=1):
        ann["id"] = number
    new_gt = dict(gt, images=[dict(images[i], id=new, file_name=f"{new}.jpg") for i in ids for new in copies[i]],
                  annotations=new_anns)
    return new_gt, [dict(det, image_id=new) for i in ids for new in copies[i] for det in dets.get(i, [])]


# ---------------------------------------------------------------- exact counting under weights


@pytest.mark.parametrize("protocol", ["halpe136", "coco-wholebody", "coco17"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_of_ones_give_the_plain_statistics_exactly(protocol, seed):
    gt, preds = make_dataset(seed, protocol, SynthOptions(num_images=25))
    result = evaluate(gt, preds, protocol, keep_matches=True, split_hands=protocol == "coco-wholebody")
    resampled = resampled_stats(result, np.ones((3, result.num_images), dtype=int))
    assert set(resampled) == set(result.parts)  # every row, mean rows (coco-wholebody's hands) included
    for row, part in result.parts.items():
        for values in resampled[row]:
            assert np.array_equal(values, _values(part.stats), equal_nan=True), row  # the same floats


@pytest.mark.parametrize("protocol, seed", [("coco17", 0), ("coco17", 1), ("coco17", 2), ("halpe136", 3),
                                            ("coco-wholebody", 4)])
def test_weighted_counts_are_those_of_the_duplicated_dataset(protocol, seed):
    gt, preds = make_dataset(seed, protocol, TIED)
    result = evaluate(gt, preds, protocol, keep_matches=True)
    weights = resample_weights(result.num_images, 4, seed)
    resampled = resampled_stats(result, weights)
    for b, w in enumerate(weights):
        copied = evaluate(*duplicated(gt, preds, w), protocol)
        for row, part in copied.parts.items():
            assert np.array_equal(resampled[row][b], _values(part.stats), equal_nan=True), (row, b)


@pytest.mark.parametrize("seed", [0, 1])
def test_statistics_on_image_splits_count_their_slice_under_weights(seed):
    """CrowdPose's easy/medium/hard AP (an image split, averaged over every entry, rounded): ones give the
    plain values, a resample those of its duplicated dataset, the split's images taken from the copies."""
    gt, preds = make_dataset(seed, "crowdpose", dataclasses.replace(TIED, image_fields=True))
    result = evaluate(gt, preds, "crowdpose", keep_matches=True)
    assert any(s.split for s in result.protocol.params.statistics)
    weights = np.vstack([np.ones(result.num_images, dtype=int), resample_weights(result.num_images, 3, seed)])
    resampled = resampled_stats(result, weights)
    for b, w in enumerate(weights):
        expected = result if b == 0 else evaluate(*duplicated(gt, preds, w), "crowdpose")
        for row, part in expected.parts.items():
            assert np.array_equal(resampled[row][b], _values(part.stats), equal_nan=True), (row, b)


def test_the_bootstrap_refuses_sliced_runs():
    """--slice-by rows have no intervals (yet): a sliced run is refused rather than half covered, by the
    bootstrap and by the tables."""
    from halpe_eval.output.builders import compare_table, stats_table

    gt, preds = make_dataset(0, "coco17", SynthOptions(num_images=10, image_fields=True))
    sliced = evaluate(gt, preds, "coco17", keep_matches=True, slice_by="scene")
    with pytest.raises(ValueError, match="slice"):
        bootstrap([sliced], 10)
    boot = bootstrap([evaluate(gt, preds, "coco17", keep_matches=True)] * 2, 10)
    with pytest.raises(ValueError, match="slice"):
        stats_table(sliced, ["AP"], intervals=boot.intervals[0])
    with pytest.raises(ValueError, match="slice"):
        compare_table([sliced, sliced], ["a", "b"], ["AP"], boot=boot)


def test_the_duplicated_datasets_have_tie_runs_with_true_positives():
    """The case the points per copy are for (ties within an image) occurs in the data above."""
    gt, preds = make_dataset(0, "coco17", TIED)
    result = evaluate(gt, preds, "coco17", keep_matches=True)
    prepared = prepare(result.parts["body"].matching, np.full(result.num_images, 3))
    assert sum(len(points.tie) for per_area in prepared.categories[0].points for points in per_area) > 0


def test_a_duplicated_dataset_scores_as_the_official_evaluator_scores_it():
    """The reference the tests above compare with is the oracle's number (pycocotools) on the copies."""
    require_oracle("pycocotools")
    from halpe_eval.oracles import evaluate_reference

    gt, preds = make_dataset(5, "coco17", TIED)
    result = evaluate(gt, preds, "coco17", keep_matches=True)
    weights = resample_weights(result.num_images, 1, 7)
    oracle = evaluate_reference(*duplicated(gt, preds, weights[0]), "coco17").parts["body"].stats
    np.testing.assert_allclose(resampled_stats(result, weights)["body"][0], _values(oracle), rtol=0, atol=1e-12)


def test_bootstrap_intervals_are_quantiles_over_duplicated_datasets():
    gt, preds = make_dataset(6, "coco17", TIED)
    result = evaluate(gt, preds, "coco17", keep_matches=True)
    boot = bootstrap([result], resamples=7, level=0.8, seed=11)
    weights = resample_weights(result.num_images, 7, 11)
    ap = np.array([evaluate(*duplicated(gt, preds, w), "coco17").parts["body"].stats["AP"] for w in weights])
    assert boot.intervals[0]["body"]["AP"] == tuple(np.quantile(ap, [0.1, 0.9]))


# ---------------------------------------------------------------- the intervals


def test_intervals_cover_the_truth_at_about_the_nominal_rate():
    """A population of 400 images with known statistics, for two runs; 80 samples of 400 images drawn from it
    with replacement (iid from the population); bootstrap intervals from each sample.  The share of intervals
    that contain the population's value is about the nominal level: 95%, and 80% for intervals that are not
    merely wide; for each run's statistics and for the paired difference.  Counting under weights is exact
    (tests above), so a sample is a weight vector on the population."""
    gt, preds = make_dataset(0, "coco17", SynthOptions(num_images=400, max_people=3, false_positives=0.5))
    rng = np.random.default_rng(0)
    jittered = [dict(p, keypoints=(np.asarray(p["keypoints"]) + rng.normal(0, 3, 51) * np.tile([1, 1, 0], 17))
                     .tolist()) for p in preds]  # a second run: every keypoint moved by about 3 pixels
    runs = [evaluate(gt, run_preds, "coco17", keep_matches=True) for run_preds in (preds, jittered)]
    params = runs[0].protocol.params
    truths = [_values(run.parts["body"].stats) for run in runs]
    truths.append(truths[1] - truths[0])
    n = runs[0].num_images
    trials, resamples = 80, 150
    covered = {0.95: np.zeros((3, len(params.stat_names))), 0.8: np.zeros((3, len(params.stat_names)))}
    for trial in range(trials):
        rng = np.random.default_rng(trial)
        sample = rng.multinomial(n, np.full(n, 1 / n))
        resampled = rng.multinomial(n, sample / n, size=resamples)  # the sample's bootstrap, on its images
        stats = [weighted_stats(prepare(run.parts["body"].matching, resampled.max(axis=0)), resampled, params, {})
                 for run in runs]
        stats.append(stats[1] - stats[0])  # paired: the same resampled images
        for level, count in covered.items():
            for i, (values, truth) in enumerate(zip(stats, truths)):
                for j, value in enumerate(truth):
                    low, high = percentile_interval(values[:, j], level)
                    count[i, j] += low <= value <= high
    rate95, rate80 = covered[0.95] / trials, covered[0.8] / trials
    assert np.all((rate95.mean(axis=1) >= 0.9) & (rate95.mean(axis=1) <= 0.98)) and rate95.min() >= 0.8, rate95
    assert np.all((rate80.mean(axis=1) >= 0.72) & (rate80.mean(axis=1) <= 0.88)), rate80
    assert rate80.min() >= 0.55 and rate80.max() <= 0.95, rate80
    assert (np.abs(truths[2]) > 0.005).sum() >= 5  # the runs differ: the difference's coverage is not of 0


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others():
    gt, preds = make_dataset(1, "halpe136", SynthOptions(num_images=40))
    result = evaluate(gt, preds, keep_matches=True)
    first, again, other = (bootstrap([result], 50, seed=seed) for seed in (3, 3, 4))
    assert first == again
    assert first.intervals != other.intervals
    assert np.array_equal(resample_weights(40, 5, 3), resample_weights(40, 5, 3))
    assert (resample_weights(40, 5, 3).sum(axis=1) == 40).all()  # 40 draws with replacement each


def test_paired_differences_use_the_same_images_for_every_run():
    gt, preds = make_dataset(2, "coco17", SynthOptions(num_images=40))
    result = evaluate(gt, preds, "coco17", keep_matches=True)
    worse = evaluate(gt, preds[: len(preds) // 2], "coco17", keep_matches=True)
    boot = bootstrap([result, result, worse], 100, seed=0)
    assert boot.difference_intervals[0] is None
    assert all(interval == (0.0, 0.0) for interval in boot.difference_intervals[1]["body"].values())  # itself
    unpaired = np.subtract(boot.intervals[2]["body"]["AR"], boot.intervals[0]["body"]["AR"][::-1])
    paired = boot.difference_intervals[2]["body"]["AR"]
    assert paired[1] - paired[0] < unpaired[1] - unpaired[0]  # the images' own variation cancels


def test_an_undefined_statistic_has_no_interval():
    gt, preds = make_dataset(3, "coco17", SynthOptions(num_images=10))
    for ann in gt["annotations"]:
        ann["area"] = min(ann["area"], 30.0**2)  # nobody medium or large
    result = evaluate(gt, preds, "coco17", keep_matches=True)
    boot = bootstrap([result], 20)
    assert result.parts["body"].stats["APm"] is None and boot.intervals[0]["body"]["APm"] is None
    assert percentile_interval(np.array([np.nan, np.nan]), 0.95) is None


def test_the_bootstrap_needs_the_kept_counts():
    gt, preds = make_dataset(3, "coco17", SynthOptions(num_images=5))
    with pytest.raises(ValueError, match="keep_matches=True"):
        bootstrap([evaluate(gt, preds, "coco17")], 10)
    with pytest.raises(ValueError, match="level"):
        bootstrap([evaluate(gt, preds, "coco17", keep_matches=True)], 10, level=95)


# ---------------------------------------------------------------- command line and output


@pytest.fixture
def two_runs(tmp_path, fixture_pair):
    return fixture_pair[0], fixture_pair[1], shifted_predictions(fixture_pair[1], 6, tmp_path)


def test_json_carries_intervals_per_run_and_per_difference(two_runs):
    gt, base, worse = two_runs
    code, out, _ = run(gt, base, worse, "--bootstrap", "60", "--ci", "90", "--seed", "5", "--format", "json", "-q")
    assert code == 0
    doc = json.loads(out)
    expected = bootstrap([evaluate(gt, base, keep_matches=True), evaluate(gt, worse, keep_matches=True)],
                         60, 0.9, 5)
    assert doc["bootstrap"] == {"resamples": 60, "level": 0.9, "seed": 5}
    for i, run_doc in enumerate(doc["runs"]):
        assert run_doc["ci"] == json.loads(json.dumps(expected.intervals[i]))
        assert set(run_doc["ci"]["wholebody"]) == set(run_doc["parts"]["wholebody"])
    assert "difference_ci" not in doc["runs"][0]
    assert doc["runs"][1]["difference_ci"] == json.loads(json.dumps(expected.difference_intervals[1]))
    code, out, _ = run(gt, base, "--bootstrap", "20", "--format", "json", "-q")
    doc = json.loads(out)
    low, high = doc["ci"]["body"]["AP"]
    assert low <= doc["parts"]["body"]["AP"] <= high and doc["bootstrap"]["seed"] == 0


def test_table_and_markdown_show_intervals_and_mark_differences_that_exclude_zero(two_runs):
    gt, base, worse = two_runs
    code, out, _ = run(gt, base, "--bootstrap", "50", "-q", "--stats", "AP")
    lines = out.splitlines()
    assert lines[1] == "[95% intervals: bootstrap over images, 50 resamples, seed 0]"
    body = lines[4].split(None, 1)
    value = evaluate(gt, base).parts["body"].stats["AP"]
    assert body[0] == "body" and body[1].startswith(f"{100 * value:.1f} [")
    code, md, _ = run(gt, base, worse, "--bootstrap", "200", "-q", "--format", "markdown", "--stats", "AP,AR")
    assert code == 0
    boot = bootstrap([evaluate(gt, base, keep_matches=True), evaluate(gt, worse, keep_matches=True)], 200)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in md.splitlines() if line.startswith("| ")}
    for part, cells in rows.items():
        if part == "part":
            continue
        for stat, cell in zip(("AP", "AR"), cells[-2:]):
            low, high = boot.difference_intervals[1][part][stat]
            assert cell.endswith(" ▼") == (high < 0) and cell.endswith(" ▲") == (low > 0), (part, stat, cell)
            assert f"[{100 * low:+.1f}, {100 * high:+.1f}]" in cell
    assert any(cell.endswith("▼") for cells in rows.values() for cell in cells)  # the worse run loses somewhere


def test_markdown_for_pull_requests_is_the_same_bytes_every_time(two_runs, tmp_path):
    gt, base, worse = two_runs
    args = (gt, base, worse, "--bootstrap", "100", "--seed", "9", "--format", "markdown", "-q")
    first, second = run(*args), run(*args)
    assert first == second and first[0] == 0
    code, plain, _ = run(gt, base, worse, "--format", "markdown", "-q")
    assert "▼" in plain and "[" not in plain.split("\n\n", 1)[1]  # marks by sign, no interval without --bootstrap


def test_csv_puts_the_bounds_in_columns_of_their_own(fixture_pair):
    code, out, _ = run(*fixture_pair, "--bootstrap", "20", "--format", "csv", "--stats", "AP", "-q")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["part", "AP", "AP low", "AP high"]
    assert all(float(low) <= float(value) <= float(high) for _, value, low, high in rows[1:])


@pytest.mark.parametrize("args, fragment", [
    (("--ci", "90"), "--ci and --seed need --bootstrap N"),
    (("--seed", "1"), "--ci and --seed need --bootstrap N"),
    (("--bootstrap", "10", "--backend", "reference"), "--bootstrap needs --backend native"),
    (("--bootstrap", "1"), "'--bootstrap'"),
    (("--bootstrap", "10", "--ci", "100"), "'--ci'"),
    (("--bootstrap", "10", "--slice-by", "scene"), "--bootstrap and --slice-by cannot go together"),
])
def test_bootstrap_usage_errors(fixture_pair, args, fragment):
    code, out, err = run(*fixture_pair, *args)
    assert code == 2 and out == "" and fragment in err


def test_people_read_an_estimate_as_value_and_interval_and_undefined_as_a_dash():
    from halpe_eval.output.model import Estimate, Kind
    from halpe_eval.output.people import shown

    assert shown(Estimate(0.452, 0.441, 0.463), Kind.FRACTION) == "45.2 [44.1, 46.3]"
    assert shown(Estimate(-0.012, -0.021, -0.003), Kind.DIFFERENCE) == "-1.2 [-2.1, -0.3] ▼"
    assert shown(Estimate(0.012, 0.003, 0.021), Kind.DIFFERENCE) == "+1.2 [+0.3, +2.1] ▲"
    assert shown(Estimate(0.004, -0.003, 0.011), Kind.DIFFERENCE) == "+0.4 [-0.3, +1.1]"  # may be noise
    assert shown(Estimate(None, None, None), Kind.FRACTION) == "-"


REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data"
REAL_PAIRS = [("xtcocoapi/example_coco_val.json", "xtcocoapi/example_coco_preds.json", "coco17"),
              ("xtcocoapi/example_wholebody_val.json", "xtcocoapi/example_wholebody_preds.json", "coco-wholebody"),
              ("litehrnet-custom/person_keypoints_val2017.json",
               "litehrnet-custom/result_keypoints_litehrnet_18_coco_256x192.json", "coco17")]


@pytest.mark.parametrize("gt_name, preds_name, protocol", REAL_PAIRS, ids=[p[1] for p in REAL_PAIRS])
def test_real_predictions_count_again_exactly(gt_name, preds_name, protocol):
    """On real files (../shared/real-data, skipped when absent): ones give the statistics, a resample gives
    those of its duplicated dataset."""
    if not (REAL / gt_name).is_file():
        pytest.skip(f"{REAL / gt_name} not present (../shared is only beside the project's own checkouts)")
    gt, preds = json.loads((REAL / gt_name).read_text()), json.loads((REAL / preds_name).read_text())
    result = evaluate(gt, preds, protocol, keep_matches=True)
    weights = np.vstack([np.ones(result.num_images, dtype=int), resample_weights(result.num_images, 2, 0)])
    resampled = resampled_stats(result, weights)
    for b, w in enumerate(weights):
        expected = result if b == 0 else evaluate(*duplicated(gt, preds, w), protocol)
        for row, part in expected.parts.items():
            assert np.array_equal(resampled[row][b], _values(part.stats), equal_nan=True), (row, b)


def test_runs_on_other_images_or_other_rows_are_not_paired():
    gt, preds = make_dataset(0, "halpe136", SynthOptions(num_images=8))
    other_gt, other_preds = make_dataset(1, "halpe136", SynthOptions(num_images=8))
    for record in other_gt["images"]:  # as many images, other ids
        record["id"] += 1000
    for record in other_gt["annotations"]:
        record["image_id"] += 1000
    for record in other_preds:
        record["image_id"] += 1000
    base = evaluate(gt, preds, keep_matches=True)
    with pytest.raises(ValueError, match="same GT"):
        bootstrap([base, evaluate(other_gt, other_preds, keep_matches=True)], resamples=5)
    with pytest.raises(ValueError, match="same rows"):
        bootstrap([base, evaluate(gt, preds, keep_matches=True, split_hands=True)], resamples=5)
