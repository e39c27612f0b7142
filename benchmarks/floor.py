"""The parse+convert floor: python benchmarks/floor.py GT.json PRED.json

The least any evaluator must do before scoring, done the fastest way measured
(benchmarks/results/read.md): the prediction file streamed in ~2 MB pieces cut between
records, each piece parsed by simdjson (pysimdjson, one parser reused) and every keypoint array
copied into doubles in C (``Array.as_buffer``): no Python float per number, no checks, one
process. The GT is parsed whole the same way. Only for the benchmark's own files (records
without nested objects, so "},{" is always a cut between records).
"""
import sys

import numpy as np
import simdjson

PIECE_BYTES = 2 << 20


def pieces(path: str):
    """The file's top-level array as JSON arrays of ~PIECE_BYTES, cut between records."""
    tail = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(PIECE_BYTES)
            buf = tail + block
            cut = buf.rfind(b"},{") if block else -1
            if cut < 0 and block:
                tail = buf
                continue
            body, tail = (buf, b"") if cut < 0 else (buf[: cut + 1], buf[cut + 2 :])
            body = body.strip()
            yield b"[" + body.lstrip(b"[").rstrip(b"]") + b"]"
            if not block:
                return


def keypoints_of(parser, texts, section: str = "") -> np.ndarray:
    """(N, 3K) float64 keypoints of the records of JSON arrays (or of ``section`` of an object)."""
    rows = []
    for text in texts:
        document = parser.parse(text)
        rows += [record["keypoints"].as_buffer(of_type="d") for record in (document[section] if section else document)]
        del document  # a reused parser's document must be released before the next parse
    return np.frombuffer(b"".join(rows), dtype=np.float64).reshape(len(rows), -1)


if __name__ == "__main__":
    parser = simdjson.Parser()
    with open(sys.argv[1], "rb") as f:
        gt_keypoints = keypoints_of(parser, [f.read()], "annotations")
    print(keypoints_of(parser, pieces(sys.argv[2])).shape, gt_keypoints.shape)
