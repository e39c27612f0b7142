"""The compiled read path (simdjson) against the precise one (orjson, record by record).

Every input, plain or hostile, must give bit-identical arrays on both paths, or the same error message.
The inputs are written as JSON text by hand so that numbers come in every spelling: integers up to and
past 64 bits, exponents, -0, subnormals, 17+ significant digits, halfway cases.
"""
import copy
import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import halpe_eval.reading.simd as simd
from halpe_eval import InputError, evaluate
from halpe_eval.protocol import builtin_names, load_protocol
from halpe_eval.reading.chunks import PieceReader, columns_of_chunks
from halpe_eval.reading.fast_ground_truth import fast_tables
from halpe_eval.reading.ground_truth import load_ground_truth
from halpe_eval.reading.jsonio import iter_array_chunks
from halpe_eval.reading.parallel import PredictionReader
from halpe_eval.synthetic import SynthOptions, make_dataset

CHECKS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


class Num(str):
    """A number written exactly as this text."""


def dump(value, pretty=False) -> bytes:
    """JSON text of ``value``; a Num is written verbatim, a ``Dup`` dict repeats its first key."""
    if isinstance(value, Num):
        return value.encode()
    if isinstance(value, dict):
        sep = b", " if pretty else b","
        items = [dump(k) + (b": " if pretty else b":") + dump(v, pretty) for k, v in value.items()]
        return b"{" + sep.join(items) + b"}"
    if isinstance(value, list):
        open_, sep = (b"[\n  ", b",\n  ") if pretty else (b"[", b",")
        return open_ + sep.join(dump(v, pretty) for v in value) + b"]"
    return orjson.dumps(value)


EDGE_NUMBERS = [
    "0", "-0", "-0.0", "0.0", "1", "-1", "1e5", "1E5", "1e+5", "1.5e-3", "2.5E-3",
    "9007199254740993", "9007199254740995", "-9007199254740993", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
    "1e308", "1.7976931348623157e308", "1.7976931348623158e308", "1e309", "-1e400", "4.9e-324",
    "2.4703282292062327e-324", "2.4703282292062328e-324", "2.2250738585072011e-308", "2.2250738585072012e-308",
    "1e-400", "0.1000000000000000055511151231257827021181583404541015625",
    "1.00000000000000011102230246251565404236316680908203125",
    "1.0000000000000002220446049250313080847263336181640625", "123456789012345678901234567890",
    "918.5823364257812", "0.19865433871746063", "3.14159265358979323846264338327950288",
]
number_text = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: f"{x:.17g}"),
    st.integers(-(2**70), 2**70).map(str),
    st.from_regex(r"-?(0|[1-9][0-9]{0,22})(\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
).map(lambda text: Num(text.replace("inf", "1e999")))
plain_number = st.floats(0, 2000, allow_nan=False).map(lambda x: Num(repr(x)))


def columns_of(path, protocol, fast: bool, chunk_bytes=256):
    """The file's Columns read in small chunks (several pieces and cuts), or the InputError's message."""
    saved = simd.AVAILABLE
    simd.AVAILABLE = fast and saved
    if not fast:  # the precise path really is the precise one
        assert PieceReader(load_protocol(protocol), None)._columns(b"[]") is None
    try:
        read = lambda parse: iter_array_chunks(path, chunk_bytes=chunk_bytes, parse=parse)  # noqa: E731
        chunks = columns_of_chunks(read, load_protocol(protocol), str(path))
        return chunks[0].concatenate(chunks) if chunks else None
    except InputError as exc:
        return str(exc)
    finally:
        simd.AVAILABLE = saved


def assert_same_columns(a, b):
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert type(a.image_ids) is type(b.image_ids)
    if isinstance(a.image_ids, np.ndarray):
        assert a.image_ids.dtype == b.image_ids.dtype == np.int64 and np.array_equal(a.image_ids, b.image_ids)
    else:
        assert [(type(v), v) for v in a.image_ids] == [(type(v), v) for v in b.image_ids]
    for field in ("category_ids", "score", "keypoints", "area"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), field
    assert a.positive.keys() == b.positive.keys()
    assert all(np.array_equal(a.positive[k], b.positive[k]) for k in a.positive)
    assert a.part_scores.keys() == b.part_scores.keys()
    assert all(a.part_scores[k].tobytes() == b.part_scores[k].tobytes() for k in a.part_scores)
    assert (a.bbox_area, a.formats) == (b.bbox_area, b.formats)


def check_predictions(tmp_path, records, protocol="coco17", pretty=False, chunk_bytes=256):
    path = tmp_path / "preds.json"
    path.write_bytes(dump(records, pretty))
    fast, precise = columns_of(path, protocol, True, chunk_bytes), columns_of(path, protocol, False, chunk_bytes)
    assert_same_columns(fast, precise)
    return fast


def prediction(image_id, numbers, score, **extra):
    return {"image_id": image_id, "category_id": 1, "keypoints": numbers, "score": score, **extra}


@CHECKS
@given(data=st.data())
def test_numbers_in_every_spelling_read_bit_identically(tmp_path_factory, data):
    records = [prediction(data.draw(st.integers(1, 2**40)), data.draw(st.lists(number_text, min_size=51, max_size=51)),
                          data.draw(number_text)) for _ in range(data.draw(st.integers(1, 6)))]
    if data.draw(st.booleans()):
        for record in records:
            record["bbox"] = data.draw(st.lists(number_text, min_size=4, max_size=4))
    check_predictions(tmp_path_factory.mktemp("n"), records, pretty=data.draw(st.booleans()))


def test_plain_records_take_the_compiled_path_and_edge_numbers_stay_exact(tmp_path):
    exact = [n for n in EDGE_NUMBERS if n not in ("18446744073709551616", "-9223372036854775809", "1e309", "-1e400",
                                                    "1.7976931348623158e308", "123456789012345678901234567890")]
    numbers = (exact * 2)[:51]
    records = [prediction(7, [Num(n) for n in numbers], Num("0.5"), bbox=[Num("1"), Num("2"), Num("3e1"), Num("-0")])]
    cols = check_predictions(tmp_path, records)
    assert cols.keypoints[0, :, 0].tolist() == [float(n) for n in numbers[0::3]]
    text = dump(records)
    assert PieceReader(load_protocol("coco17"), None)._columns(text) is not None  # not the fallback


@pytest.mark.parametrize("change", [
    lambda r: r["keypoints"].__setitem__(4, [Num("5")]),  # an array in the keypoints: as_buffer would flatten it
    lambda r: r["keypoints"].__setitem__(4, [Num("5"), Num("6")]),  # flattened, one number too many
    lambda r: r["keypoints"].__setitem__(4, True),
    lambda r: r["keypoints"].__setitem__(4, None),
    lambda r: r["keypoints"].__setitem__(4, "5"),
    lambda r: r["keypoints"].pop(),
    lambda r: r.__setitem__("keypoints", [r["keypoints"][i:i + 3] for i in range(0, 51, 3)]),
    lambda r: r.__setitem__("score", True),
    lambda r: r.__setitem__("score", None),
    lambda r: r.pop("score"),
    lambda r: r.__setitem__("category_id", 1.0),
    lambda r: r.__setitem__("category_id", Num("9223372036854775808")),
    lambda r: r.__setitem__("image_id", ""),
    lambda r: r.__setitem__("image_id", "000001.jpg"),
    lambda r: r.__setitem__("image_id", True),
    lambda r: r.__setitem__("image_id", [1]),
    lambda r: r.__setitem__("bbox", [Num("1"), Num("2"), Num("-3"), Num("4")]),
    lambda r: r.__setitem__("bbox", [Num("1"), Num("2"), Num("3")]),
    lambda r: r.__setitem__("bbox", [[Num("1")], Num("2"), Num("3"), Num("4")]),
    lambda r: r.__setitem__("bbox", [[Num("1"), Num("2")], Num("3"), Num("4"), Num("5")]),  # 4 entries, 5 numbers
    lambda r: r.__setitem__("bbox", []),
    lambda r: r.__setitem__("extra", {"keypoints": [1, [2]], "name": "a[b]"}),
    lambda r: r.__setitem__("keypoints", {"x": 1}),
], ids=lambda f: "")
@pytest.mark.parametrize("where", [0, 1, 4])
def test_a_refused_record_is_read_or_worded_as_the_precise_path_does(tmp_path, change, where):
    records = [prediction(i + 1, [Num(repr(0.25 * (i + j))) for j in range(51)], Num("0.5"),
                          bbox=[Num("1"), Num("2"), Num("3"), Num("4")]) for i in range(6)]
    change(records[where])
    check_predictions(tmp_path, records)


def test_a_repeated_key_is_read_as_orjson_reads_it_the_last_one(tmp_path):
    path = tmp_path / "preds.json"
    base = dump([prediction(1, [Num("1")] * 51, Num("0.5"))])
    path.write_bytes(base.replace(b'"score":0.5', b'"score":0.5,"score":0.75').replace(b'"image_id":1',
                                                                                        b'"image_id":1,"sc\\u006fre":0.9'))
    fast, precise = columns_of(path, "coco17", True), columns_of(path, "coco17", False)
    assert_same_columns(fast, precise)
    assert fast.score.tolist() == [0.75]  # the last of the three (the second spelled with an escape)


@pytest.mark.parametrize("protocol", ["coco-wholebody", "halpe136", "coco17"])
def test_synthetic_files_of_every_format_read_identically(tmp_path, protocol):
    gt, preds = make_dataset(5, protocol, SynthOptions(num_images=6, float32_text=True, bbox=protocol == "halpe136"))
    for record in preds[::3]:  # AlphaPose's file names for some
        record["image_id"] = f"{record['image_id']:012d}.jpg"
    if protocol == "coco-wholebody":
        for record in preds[::2]:
            record["foot_score"] = 0.5
    cols = check_predictions(tmp_path, preds, protocol, chunk_bytes=4096)
    assert not isinstance(cols, str) and len(cols.score) == len(preds)


def test_json_lines_gzip_and_files_without_array_take_the_precise_path(tmp_path):
    records = [prediction(i, [Num("1.5")] * 51, Num("0.5")) for i in range(1, 4)]
    lines = tmp_path / "preds.jsonl"
    lines.write_bytes(b"\n".join(dump(r) for r in records))
    zipped = tmp_path / "preds.json.gz"
    zipped.write_bytes(gzip.compress(dump(records)))
    for path in (lines, zipped):
        assert_same_columns(columns_of(path, "coco17", True), columns_of(path, "coco17", False))


# ---------------------------------------------------------------- ground truth

def gt_file(tmp_path, protocol="coco17", seed=1, change=None, pretty=False):
    gt, _ = make_dataset(seed, protocol, SynthOptions(num_images=5, float32_text=True))
    if change is not None:
        change(gt)
    path = tmp_path / "gt.json"
    path.write_bytes(dump(gt, pretty))
    return path


def gt_file_bytes() -> bytes:
    gt, _ = make_dataset(1, "coco17", SynthOptions(num_images=2))
    return orjson.dumps(gt)


def ground_truth_of(path, fast: bool):
    saved = simd.AVAILABLE
    simd.AVAILABLE = fast and saved
    if not fast:  # the precise path really is the precise one
        assert fast_tables(gt_file_bytes(), None) is None
    try:
        return load_ground_truth(path)
    except InputError as exc:
        return str(exc)
    finally:
        simd.AVAILABLE = saved


def assert_same_ground_truth(path):
    a, b = ground_truth_of(path, True), ground_truth_of(path, False)
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return a
    for field in a.__dataclass_fields__:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), field
        else:
            assert x == y, field
    return a


@pytest.mark.parametrize("protocol", ["coco17", "halpe136", "coco-wholebody", "halpe26", "crowdpose"])
def test_plain_ground_truth_takes_the_compiled_path_with_the_same_arrays(tmp_path, protocol):
    """crowdpose: no 'area' field, the area taken from the box (use_area off) on both paths."""
    path = gt_file(tmp_path, protocol)
    assert fast_tables(path.read_bytes(), None) is not None
    assert fast_tables(gt_file_bytes(), None) is not None
    gt = assert_same_ground_truth(path)
    assert gt.protocol.name == protocol and len(gt.ann_ids)


def test_nested_arrays_outside_the_fields_read_keep_the_compiled_path(tmp_path):
    def polygons(gt):
        for ann in gt["annotations"]:
            ann["segmentation"] = [[1.5, 2, 3, 4, 5, 6], [[7]]]
        gt["images"][0]["file_name"] = "a[1], [b].jpg"
    path = gt_file(tmp_path, change=polygons)
    assert fast_tables(path.read_bytes(), None) is not None
    assert_same_ground_truth(path)


def test_the_bytes_are_searched_for_nested_arrays_only_when_they_hold_more_arrays_than_were_read(monkeypatch):
    searched = []
    monkeypatch.setattr(simd, "_nested_in", lambda raw, fields: searched.append(raw) or False)
    fields = frozenset({"keypoints"})
    assert simd.flattened_exactly(b'[{"keypoints":[1,2,3]},{"keypoints":[4,5,6]}]', 1, 2, fields) and not searched
    assert simd.flattened_exactly(b'[{"keypoints":[1,2,3],"name":"a["}]', 1, 1, fields) and len(searched) == 1
    monkeypatch.undo()
    assert not simd.flattened_exactly(b'[{"keypoints":[[1],2,3]}]', 1, 1, fields)
    assert simd.flattened_exactly(b'[{"keypoints":[1,2,3],"box":[[4]]}]', 1, 1, fields)


def test_the_categories_arrays_are_counted_so_a_plain_gt_is_not_searched(tmp_path, monkeypatch):
    """Keypoint names and a skeleton (arrays of arrays) in 'categories' are counted as arrays the text holds, so a
    GT whose other arrays were all read is not searched; a nested keypoint array in an annotation still is, and is
    refused by the compiled path and worded by the precise one."""
    def skeleton(gt):
        gt["categories"][0]["keypoints"] = [f"k{i}" for i in range(17)]
        gt["categories"][0]["skeleton"] = [[1, 2], [2, 3], []]
    searched = []
    nested_in = simd._nested_in
    monkeypatch.setattr(simd, "_nested_in", lambda raw, fields: searched.append(raw) or nested_in(raw, fields))
    path = gt_file(tmp_path, change=skeleton)
    assert fast_tables(path.read_bytes(), None) is not None and not searched
    assert simd.arrays_within(simd.parse(path.read_bytes())["categories"]) == 5

    def nested_keypoints(gt):
        skeleton(gt)
        gt["annotations"][1]["keypoints"][0] = [gt["annotations"][1]["keypoints"][0]]
    path = gt_file(tmp_path, change=nested_keypoints)
    assert fast_tables(path.read_bytes(), None) is None and searched
    assert "keypoints" in assert_same_ground_truth(path)


def test_a_nested_array_under_an_escaped_key_is_refused(tmp_path):
    path = tmp_path / "preds.json"
    record = dump([prediction(1, [[Num("5")]] + [Num("1")] * 50, Num("0.5"))])
    path.write_bytes(record.replace(b'"keypoints"', b'"keyp\\u006fints"'))
    assert PieceReader(load_protocol("coco17"), None)._columns(path.read_bytes()) is None
    message = columns_of(path, "coco17", True)
    assert message == columns_of(path, "coco17", False) and "not a number" in message


def _set(section, index, field, value):
    return lambda gt: gt[section][index].__setitem__(field, value)


def _pop(section, index, field):
    return lambda gt: gt[section][index].pop(field)


GT_CHANGES = [
    _set("annotations", 1, "iscrowd", 1.0), _set("annotations", 1, "iscrowd", True),
    _set("annotations", 1, "iscrowd", 2),
    _set("annotations", 1, "iscrowd", None), _set("annotations", 1, "ignore", 1), _set("annotations", 1, "ignore", "1"),
    _pop("annotations", 1, "num_keypoints"), _set("annotations", 1, "num_keypoints", -1),
    _set("annotations", 1, "num_keypoints", 3.0), _set("annotations", 1, "num_keypoints", None),
    _set("annotations", 1, "num_keypoints", Num("9223372036854775808")), _set("annotations", 1, "num_keypoints", 0),
    _pop("annotations", 1, "area"), _set("annotations", 1, "area", -1), _set("annotations", 1, "area", Num("12")),
    _set("annotations", 1, "area", Num("1e400")), _set("annotations", 1, "area", "12"),
    _set("annotations", 1, "bbox", [1, 2, 3]), _set("annotations", 1, "bbox", [1, 2, -3, 4]),
    _set("annotations", 1, "bbox", [[1], 2, 3, 4]), _set("annotations", 1, "bbox", [1, 2, True, 4]),
    _set("annotations", 1, "id", 1), _set("annotations", 1, "id", True), _set("annotations", 1, "id", Num("2e0")),
    _set("annotations", 1, "image_id", 999999999), _set("annotations", 1, "category_id", 5),
    _set("annotations", 1, "keypoints", [0.5] * 50), _set("annotations", 1, "keypoints", [[0.5]] + [0.5] * 50),
    _set("annotations", 1, "keypoints", [None] + [0.5] * 50), _set("annotations", 1, "keypoints", [True] + [0.5] * 50),
    _set("images", 1, "file_name", 12), _set("images", 1, "file_name", None), _pop("images", 1, "file_name"),
    _set("images", 1, "id", "7"), _set("categories", 0, "id", 1.5),
    lambda gt: gt["images"].append(copy.deepcopy(gt["images"][0])),
    lambda gt: gt["annotations"].append(copy.deepcopy(gt["annotations"][0])),
    lambda gt: gt["images"].append(dict(gt["images"][0], width=1)),
    lambda gt: gt["annotations"].clear(),
    lambda gt: gt["annotations"].insert(0, 5),
    lambda gt: gt.__setitem__("images", {}),
    lambda gt: gt.pop("categories"),
]


@pytest.mark.parametrize("change", GT_CHANGES, ids=lambda f: "")
def test_ground_truth_the_compiled_path_refuses_is_read_or_worded_as_the_precise_path_does(tmp_path, change):
    assert_same_ground_truth(gt_file(tmp_path, change=change))


@CHECKS
@given(data=st.data())
def test_ground_truth_numbers_in_every_spelling_read_bit_identically(tmp_path_factory, data):
    def respell(gt):
        for ann in gt["annotations"]:
            ann["keypoints"] = [data.draw(number_text) for _ in ann["keypoints"]]
            ann["bbox"] = [data.draw(number_text) for _ in ann["bbox"]]
            ann["area"] = data.draw(number_text)
    assert_same_ground_truth(gt_file(tmp_path_factory.mktemp("g"), change=respell, pretty=data.draw(st.booleans())))


def test_without_pysimdjson_every_read_takes_the_precise_path_with_the_same_numbers(tmp_path, monkeypatch):
    gt, preds = make_dataset(2, "halpe136", SynthOptions(num_images=8, float32_text=True))
    (tmp_path / "gt.json").write_bytes(orjson.dumps(gt))
    (tmp_path / "preds.json").write_bytes(orjson.dumps(preds))
    compiled = evaluate(tmp_path / "gt.json", tmp_path / "preds.json")
    monkeypatch.setattr(simd, "simdjson", None)
    monkeypatch.setattr(simd, "AVAILABLE", False)
    assert simd.parse(b"[1]") is None
    assert fast_tables((tmp_path / "gt.json").read_bytes(), None) is None
    precise = evaluate(tmp_path / "gt.json", tmp_path / "preds.json")
    assert {p: r.stats for p, r in compiled.parts.items()} == {p: r.stats for p, r in precise.parts.items()}


def test_the_parallel_reader_takes_the_compiled_path_with_the_same_columns(tmp_path, monkeypatch):
    import halpe_eval.reading.parallel as parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 20_000)
    gt, preds = make_dataset(4, "halpe136", SynthOptions(num_images=30, float32_text=True))
    (tmp_path / "gt.json").write_bytes(orjson.dumps(gt))
    (tmp_path / "preds.json").write_bytes(orjson.dumps(preds))
    truth = load_ground_truth(tmp_path / "gt.json")

    def read(workers):
        reader = PredictionReader(tmp_path / "preds.json", workers=workers)
        try:
            reader.start(truth.protocol)
            return reader.load(truth)
        finally:
            reader.close()

    fast = read(2)
    monkeypatch.setattr(simd, "AVAILABLE", False)
    precise = read(1)
    for field in ("image_index", "category_index", "keypoints", "score", "area"):
        assert getattr(fast, field).tobytes() == getattr(precise, field).tobytes(), field


def test_arrays_of_the_compiled_path_are_writable_like_numpy_arrays(tmp_path):
    gt = load_ground_truth(gt_file(tmp_path))
    assert gt.keypoints.flags.writeable and gt.bbox.flags.writeable


def test_the_streaming_evaluator_reads_files_by_the_compiled_path_with_the_same_result(tmp_path, monkeypatch):
    from halpe_eval.streaming import StreamingEvaluator

    gt, preds = make_dataset(6, "coco-wholebody", SynthOptions(num_images=10, float32_text=True))
    (tmp_path / "gt.json").write_bytes(orjson.dumps(gt))
    for i, part in enumerate((preds[::2], preds[1::2])):
        (tmp_path / f"preds{i}.json").write_bytes(orjson.dumps(part))

    def stats():
        evaluator = StreamingEvaluator(tmp_path / "gt.json")
        for i in range(2):
            evaluator.update_results(tmp_path / f"preds{i}.json")
        result = evaluator.compute()
        return {p: r.stats for p, r in result.parts.items()}, result.ground_truth.keypoints.tobytes()

    compiled = stats()
    monkeypatch.setattr(simd, "AVAILABLE", False)
    assert stats() == compiled


SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_json_files():
    return sorted(p for folder in ("real-data", "peer-fixtures") for p in (SHARED / folder).rglob("*.json"))


@pytest.mark.skipif(not (SHARED / "real-data").is_dir(), reason="../shared is only beside the project's checkouts")
def test_real_files_read_the_same_on_both_paths_and_real_ground_truth_takes_the_compiled_one(tmp_path):
    compiled = 0
    for path in shared_json_files():
        raw = path.read_bytes()
        if raw.lstrip()[:1] == b"{":
            gt = assert_same_ground_truth(path)
            compiled += not isinstance(gt, str) and fast_tables(raw, None) is not None
        elif raw.lstrip()[:1] == b"[":
            for protocol in builtin_names():
                fast, precise = (columns_of(path, protocol, compiled_path, 1 << 16) for compiled_path in (True, False))
                assert_same_columns(fast, precise)
    assert compiled >= 5  # COCO, COCO-WholeBody and Halpe files with segmentation polygons among them


def test_an_empty_results_list_reads_the_same_on_both_paths(tmp_path):
    cols = check_predictions(tmp_path, [])
    assert len(cols.score) == 0 and cols.keypoints.shape == (0, 17, 2)


def test_image_records_read_the_same_on_both_paths_for_image_slices(tmp_path):
    """--slice-by and image splits read images[] fields: the compiled path keeps the same records."""
    gt, _ = make_dataset(3, "crowdpose", SynthOptions(num_images=6, image_fields=True))
    gt["images"] = gt["images"][::-1]  # kept in id order, whatever the file order
    path = tmp_path / "gt.json"
    path.write_bytes(dump(gt))
    assert fast_tables(path.read_bytes(), None) is not None
    read = assert_same_ground_truth(path)
    assert [r["id"] for r in read.image_records] == sorted(r["id"] for r in gt["images"])
    assert all("crowdIndex" in r and "scene" in r for r in read.image_records)


def test_each_thread_reuses_one_parser_and_a_live_document_makes_the_next_piece_take_the_precise_path():
    import threading

    parser = simd.thread_parser()
    assert simd.thread_parser() is parser
    others: list = []
    worker = threading.Thread(target=lambda: others.append(simd.thread_parser()))
    worker.start()
    worker.join()
    assert others[0] is not parser
    first = simd.parse(b'[{"keypoints": [1, 2, 3]}]', parser)
    kept = first[0]  # a value taken from the first document outlives it
    del first
    assert simd.parse(b"[1]", parser) is None  # refused: the caller reads this piece with orjson
    del kept
    assert simd.parse(b"[1]", parser) is not None


def test_keys_written_with_escapes_read_as_the_precise_path_reads_them(tmp_path):
    path = tmp_path / "preds.json"
    base = dump([prediction(1, [Num("1")] * 51, Num("0.5")), prediction(1, [Num("2")] * 51, Num("0.25"))])
    path.write_bytes(base.replace(b'"score":0.25', b'"sc\\u006fre":0.25'))
    fast, precise = columns_of(path, "coco17", True), columns_of(path, "coco17", False)
    assert_same_columns(fast, precise)
    assert fast.score.tolist() == [0.5, 0.25]


def test_a_key_simdjson_cannot_look_up_by_its_name_is_left_to_the_precise_path(tmp_path):
    path = tmp_path / "preds.json"
    base = dump([prediction(1, [Num("1")] * 51, Num("0.5"))])
    path.write_bytes(base.replace(b'"image_id":1', b'"image_id":1,"a\\u0000b":2'))  # a NUL in a key
    assert PieceReader(load_protocol("coco17"), None)._columns(path.read_bytes()) is None
    assert_same_columns(columns_of(path, "coco17", True), columns_of(path, "coco17", False))


@pytest.mark.parametrize("protocol", ["halpe136", "coco-wholebody", "coco17"])
def test_the_reader_takes_the_keypoint_boxes_the_engine_would_take(protocol, tmp_path, monkeypatch):
    """Where a part is wide enough to prune OKS pairs, each range's boxes are taken while it is read (serially
    and with the worker), equal to oks.keypoint_boxes of the keypoints read; elsewhere none are taken."""
    from halpe_eval.oks import keypoint_boxes, prunes
    from halpe_eval.reading import parallel
    from halpe_eval.reading.ground_truth import load_ground_truth
    from halpe_eval.reading.parallel import PredictionReader
    from halpe_eval.synthetic import SynthOptions, make_dataset

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)  # a worker even for this small file,
    monkeypatch.setattr(parallel, "RANGE_BYTES", 16 << 10)  # which is cut into many ranges

    gt_dict, preds = make_dataset(4, protocol, SynthOptions(num_images=40, false_positives=3.0))
    path = tmp_path / "preds.json"
    path.write_bytes(orjson.dumps(preds))
    gt = load_ground_truth(gt_dict)
    for workers in (1, 2):
        reader = PredictionReader(path, workers=workers)
        reader.start(gt.protocol)
        read = reader.load(gt)
        reader.close()
        if prunes(gt.protocol.parts):
            assert read.keypoint_boxes is not None
            assert read.keypoint_boxes.tobytes() == keypoint_boxes(read.keypoints).tobytes()
        else:
            assert read.keypoint_boxes is None


@pytest.mark.parametrize("seed", range(20))
def test_index_in_finds_what_a_binary_search_finds(seed):
    """index_in looks small ids up in a table and searches the rest: either way each value is found where a
    binary search finds it (ids and values from a few to 600k, unknown and negative values, empty inputs)."""
    from halpe_eval.reading.records import index_in

    rng = np.random.default_rng(seed)
    span = int(rng.choice([1, 10, 1000, 600_000, 2**40]))
    ids = np.unique(rng.integers(0, span, int(rng.integers(0, 5000))))
    known = rng.choice(ids, int(rng.integers(0, 40_000))) if len(ids) else np.zeros(0, dtype=np.int64)
    values = np.concatenate([known, rng.integers(-5, 2 * span, int(rng.integers(0, 300)))])
    rng.shuffle(values)
    index, found = index_in(ids, values)
    position = np.searchsorted(ids, values)
    expected = position < len(ids)
    expected[expected] = ids[position[expected]] == values[expected]
    assert index.dtype == np.int64 and np.array_equal(found, expected)
    assert np.array_equal(index[found], position[found])
