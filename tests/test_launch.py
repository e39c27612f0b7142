"""halpe_eval.launch: the command line read as click reads it, and the reader forked before the imports."""
import json
import os
import subprocess
import sys

import click
import pytest

import halpe_eval.reading.parallel as parallel
from halpe_eval import evaluate, launch
from halpe_eval.cli import main
from halpe_eval.launch import CommandFiles, command_files
from halpe_eval.reading import sharing

from oracle_cases import case


def test_the_option_lists_are_the_commands():
    valued, flags = set(), set()
    for param in main.params:
        if isinstance(param, click.Option) and param.name != "version":
            (flags if param.is_flag or param.count else valued).update(param.opts + param.secondary_opts)
    assert valued == launch.VALUED
    assert flags == launch.FLAGS


@pytest.mark.parametrize("args, files", [
    (["gt.json", "p.json"], CommandFiles("gt.json", "p.json", None)),
    (["gt.json", "p.json", "q.json", "--format", "json", "-q"], CommandFiles("gt.json", "p.json", None)),
    (["--protocol", "coco17", "gt.json", "p.json"], CommandFiles("gt.json", "p.json", "coco17")),
    (["-p", "coco17", "gt.json", "p.json"], CommandFiles("gt.json", "p.json", "coco17")),
    (["-pcoco17", "gt.json", "p.json"], CommandFiles("gt.json", "p.json", "coco17")),
    (["--protocol=my.toml", "gt.json", "p.json", "-p", "last"], CommandFiles("gt.json", "p.json", "last")),
    (["--sigmas", "s.json", "gt.json", "--", "-p.json"], CommandFiles("gt.json", "-p.json", None)),
    (["-", "p.json", "--backend=native"], CommandFiles("-", "p.json", None)),
    (["gt.json", "p.json", "--backend", "reference"], None),
    (["gt.json", "--shards", "rank*.json"], None),
    (["gt.json", "p.json", "--help"], None),
    (["gt.json", "p.json", "--version"], None),
    (["gt.json", "p.json", "-qp", "coco17"], None),  # a cluster: not read here
    (["gt.json", "p.json", "--no-such-option"], None),
    (["gt.json", "p.json", "--format"], None),
])
def test_command_files(args, files):
    assert command_files(args) == files


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "RANGE_BYTES", 64 << 10)
    gt, preds = case(9)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "preds.json").write_text(json.dumps(preds, indent=1))
    return str(tmp_path / "gt.json"), str(tmp_path / "preds.json"), gt, preds


def test_the_early_reader_is_adopted_and_reads_exactly(files, monkeypatch):
    gt_path, preds_path, gt, preds = files
    monkeypatch.setattr(launch, "EARLY_MIN_BYTES", 0)
    caller, read = os.getpid(), parallel._Ranges.read

    def slow_in_caller(self, i, protocol):
        if os.getpid() == caller:
            import time

            time.sleep(0.02)
        return read(self, i, protocol)

    monkeypatch.setattr(parallel._Ranges, "read", slow_in_caller)
    launch.start_reader([gt_path, preds_path, "--format", "json"])
    early = next(iter(sharing._EARLY.values()))
    result = evaluate(gt_path, preds_path)
    assert sharing._EARLY == {} and early.by_worker  # adopted, and it read some ranges
    assert result.stats() == evaluate(gt, preds).stats()


def test_an_early_reader_of_another_protocol_is_not_used(files, monkeypatch):
    gt_path, preds_path, gt, preds = files
    monkeypatch.setattr(launch, "EARLY_MIN_BYTES", 0)
    launch.start_reader([gt_path, preds_path, "--protocol", "wholebody133"])  # cannot read these: fails
    early = next(iter(sharing._EARLY.values()))
    result = evaluate(gt_path, preds_path)
    assert early.by_worker == []
    assert result.stats() == evaluate(gt, preds).stats()


def test_no_early_reader_for_a_small_file_or_one_core(files, monkeypatch):
    gt_path, preds_path, _, _ = files
    launch.start_reader([gt_path, preds_path])  # below EARLY_MIN_BYTES
    monkeypatch.setattr(launch, "EARLY_MIN_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    launch.start_reader([gt_path, preds_path])
    assert sharing._EARLY == {}


def test_the_command_with_an_early_reader_prints_what_the_library_computes(tmp_path):
    gt, preds = case(3)
    preds = preds * max(1, (launch.EARLY_MIN_BYTES // len(json.dumps(preds))) + 1)  # large enough
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    assert (tmp_path / "preds.json").stat().st_size >= launch.EARLY_MIN_BYTES
    done = subprocess.run([sys.executable, "-m", "halpe_eval", str(tmp_path / "gt.json"), str(tmp_path / "preds.json"),
                           "--format", "json", "-q"], capture_output=True, text=True, check=True)
    printed = json.loads(done.stdout)
    expected = evaluate(gt, preds)
    assert printed["parts"]["wholebody"]["AP"] == pytest.approx(expected.parts["wholebody"].stats["AP"], abs=1e-12)
    assert done.stderr == ""
