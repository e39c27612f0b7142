"""JSON parser candidates for the read path: a prediction file's bytes to its keypoints as a float64 array.

    python benchmarks/parsers.py FILE [--rounds 5]

Each candidate turns the (already read) bytes into the (D, 3K) keypoint array plus the image ids,
category ids and scores, and must give the same bits as orjson + np.array. Candidates whose
package is not installed are skipped (cysimdjson, yyjson and msgspec are not dependencies:
``pip install cysimdjson yyjson msgspec`` to time them). Results: benchmarks/results/read.md.
"""
import argparse
import gc
import importlib
import statistics
import time
from pathlib import Path

import numpy as np
import orjson

PIECE_BYTES = 2 << 20


def pieces(raw: bytes) -> list:
    """The array cut between records into ~2 MB JSON arrays, as the chunked reader cuts it."""
    cuts, near = [0], PIECE_BYTES
    while near < len(raw):
        at = raw.find(b"},{", near)
        if at < 0:
            break
        cuts.append(at + 1)
        near = at + PIECE_BYTES
    ends = cuts[1:] + [len(raw) - 1]
    return [(b"[" if a else b"") + raw[a + (1 if a else 0) : b] + b"]" for a, b in zip(cuts, ends)]


def from_objects(records: list) -> np.ndarray:
    """The keypoints as an array (the ids and scores are taken too, as a reader takes them)."""
    _ = [r["image_id"] for r in records], np.array([r["category_id"] for r in records]), np.array(
        [r["score"] for r in records])
    return np.array([r["keypoints"] for r in records], dtype=np.float64)


def simd_buffers(array) -> np.ndarray:
    """Each record's keypoints copied into doubles by simdjson (no Python float per number)."""
    rows, scalars = [], []
    for record in array:
        rows.append(record["keypoints"].as_buffer(of_type="d"))
        scalars.append((record["image_id"], record["category_id"], record["score"]))
    return np.frombuffer(b"".join(rows), dtype=np.float64)


def cysimdjson_keypoints(cysimdjson, raw: bytes) -> np.ndarray:
    parser = cysimdjson.JSONParser()  # kept alive while its document is read (freed early, it crashes)
    return np.array([r.at_pointer("/keypoints").export() for r in parser.parse(raw)], dtype=np.float64)


def candidates() -> dict:
    found = {"orjson, whole document": lambda raw: from_objects(orjson.loads(raw)),
             "orjson, 2 MB pieces": lambda raw: np.concatenate([from_objects(orjson.loads(p)) for p in pieces(raw)])}
    modules = {}
    for name in ("simdjson", "cysimdjson", "yyjson", "msgspec"):
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            print(f"({name} not installed: skipped)")
    if "simdjson" in modules:
        simdjson = modules["simdjson"]
        found["pysimdjson, whole, as_buffer"] = lambda raw: simd_buffers(simdjson.Parser().parse(raw))
        found["pysimdjson, 2 MB pieces, as_buffer"] = lambda raw: np.concatenate(
            [simd_buffers(simdjson.Parser().parse(p)) for p in pieces(raw)])
    if "cysimdjson" in modules:
        found["cysimdjson, whole, export"] = lambda raw: cysimdjson_keypoints(modules["cysimdjson"], raw)
    if "yyjson" in modules:
        found["yyjson loads"] = lambda raw: from_objects(modules["yyjson"].loads(raw))
    if "msgspec" in modules:
        found["msgspec decode"] = lambda raw: from_objects(modules["msgspec"].json.decode(raw))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    raw = Path(args.file).read_bytes()
    reference = from_objects(orjson.loads(raw)).tobytes()
    print(f"| candidate ({len(raw) / 2**20:.0f} MiB) | median | min |\n|---|---|---|")
    for name, read in candidates().items():
        times = []
        for _ in range(args.rounds):
            gc.collect()
            tic = time.perf_counter()
            keypoints = read(raw)
            times.append(time.perf_counter() - tic)
            assert keypoints.tobytes() == reference, name
            del keypoints
        print(f"| {name} | {statistics.median(times):.3f} s | {min(times):.3f} s |", flush=True)


if __name__ == "__main__":
    main()
