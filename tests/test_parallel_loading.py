"""The parallel prediction reader (used for large files) gives exactly what the serial reader gives."""
import json
import os
import time

import pytest

import halpe_eval.reading.parallel as parallel
from halpe_eval import InputError, evaluate
from halpe_eval.reading.ground_truth import load_ground_truth, peek_protocol

from oracle_cases import case


@pytest.fixture
def small_ranges(monkeypatch):
    """Make every file 'large' and cut it into many small ranges, so the worker path runs."""
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 64 << 10)


@pytest.fixture
def files(tmp_path):
    gt, preds = case(9)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "preds.json").write_text(json.dumps(preds, indent=1))
    return tmp_path / "gt.json", tmp_path / "preds.json", gt, preds


def test_parallel_equals_serial(files, small_ranges):
    gt_path, preds_path, gt, preds = files
    assert preds_path.stat().st_size > 5 * parallel.RANGE_BYTES  # several ranges, several workers' tasks
    reader = parallel.PredictionReader(preds_path)
    reader.start(peek_protocol(gt_path))
    assert reader._sharing is not None
    reader.close()
    assert evaluate(gt_path, preds_path).stats() == evaluate(gt, preds).stats()


def test_invalid_record_in_a_worker_is_reported_like_the_serial_reader(files, small_ranges, tmp_path):
    gt_path, _, _, preds = files
    preds[len(preds) // 2]["score"] = "high"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(preds))
    with pytest.raises(InputError, match=rf"bad.json: prediction #{len(preds) // 2} .*'score' is 'high'"):
        evaluate(gt_path, bad)


def test_a_misleading_first_annotation_is_corrected(files, small_ranges, tmp_path):
    """The head of the GT suggests COCO-17 (a decoy 'annotations' key): the real protocol wins."""
    _, preds_path, gt, preds = files
    decoy = {"licenses": {"annotations": [{"keypoints": [0] * 51}]}, **gt}
    path = tmp_path / "decoy_gt.json"
    path.write_text(json.dumps(decoy))
    assert peek_protocol(path).name == "coco17"
    result = evaluate(path, preds_path)
    assert result.protocol.name == "halpe136"
    assert result.stats() == evaluate(gt, preds).stats()


def test_workers_one_reads_serially_with_the_same_result(files, small_ranges):
    gt_path, preds_path, _, _ = files
    reader = parallel.PredictionReader(preds_path, workers=1)
    reader.start(peek_protocol(gt_path))
    assert reader._sharing is None and reader._ranges is not None
    reader.close()
    assert evaluate(gt_path, preds_path, workers=1).stats() == evaluate(gt_path, preds_path).stats()


def _slow_in(pid, monkeypatch):
    """Range reads in process ``pid`` take 20 ms longer (the other process then surely reads some)."""
    read = parallel._Ranges.read

    def slow(self, i, protocol):
        if os.getpid() == pid:
            time.sleep(0.02)
        return read(self, i, protocol)

    monkeypatch.setattr(parallel._Ranges, "read", slow)


def test_the_caller_and_the_worker_share_the_ranges_each_read_once(files, small_ranges, monkeypatch):
    gt_path, preds_path, _, _ = files
    _slow_in(os.getpid(), monkeypatch)
    ground_truth = load_ground_truth(gt_path)
    reader = parallel.PredictionReader(preds_path)
    reader.start(ground_truth.protocol)
    sharing, ranges = reader._sharing, len(reader._ranges.spans)
    assert sharing is not None and ranges > 5
    loaded = reader.load(ground_truth)
    by_worker = set(sharing.by_worker)
    assert 1 <= len(by_worker) < ranges and len(by_worker) == len(sharing.by_worker)
    serial = parallel.PredictionReader(preds_path, workers=1)
    serial.start(ground_truth.protocol)
    expected = serial.load(ground_truth)
    assert (loaded.keypoints == expected.keypoints).all() and (loaded.score == expected.score).all()


def test_a_cut_is_found_past_the_first_window_when_a_record_is_longer(tmp_path):
    from halpe_eval.reading.jsonio import split_point

    long_record = {"image_id": 1, "note": "x" * (100 << 10)}
    path = tmp_path / "long.json"
    path.write_text(json.dumps([long_record, {"image_id": 2}, {"image_id": 3}]))
    text = path.read_bytes()
    cut = split_point(path, 10)
    assert cut == text.index(b'},') + 1 and text[cut:cut + 1] == b","
    assert split_point(path, 10, windows=(64 << 10,)) is None  # the first window alone does not reach it


def test_a_worker_that_dies_leaves_the_caller_to_read_everything(files, small_ranges, monkeypatch):
    gt_path, preds_path, gt, preds = files
    caller = os.getpid()
    read = parallel._Ranges.read

    def die_in_worker(self, i, protocol):
        if os.getpid() != caller:
            os._exit(1)
        return read(self, i, protocol)

    monkeypatch.setattr(parallel._Ranges, "read", die_in_worker)
    assert evaluate(gt_path, preds_path).stats() == evaluate(gt, preds).stats()


def test_an_invalid_record_read_by_the_caller_is_reported_like_the_serial_reader(files, small_ranges, tmp_path):
    gt_path, _, _, preds = files
    preds[-1]["keypoints"] = preds[-1]["keypoints"][:-3]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(preds))
    expected = rf"bad.json: prediction #{len(preds) - 1} .*'keypoints' is 405 numbers, expected 408"
    with pytest.raises(InputError, match=expected):
        evaluate(gt_path, bad)
