"""reading.sharing: tasks split between a forked worker and the caller, each done once, results in order."""
import os

import numpy as np
import pytest

from halpe_eval.reading import sharing

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def task(i: int) -> dict:
    """A result with arrays (stored out of band by the worker) and plain values."""
    return {"i": i, "values": np.arange(i * 1000, dtype=np.float64) / 7, "flags": np.arange(i) % 2 == 0,
            "name": f"task {i}"}


def expected(total: int) -> list:
    return [task(i) for i in range(total)]


def same(results: list, total: int) -> bool:
    return len(results) == total and all(
        r["i"] == e["i"] and r["name"] == e["name"] and np.array_equal(r["values"], e["values"])
        and np.array_equal(r["flags"], e["flags"]) for r, e in zip(results, expected(total)))


def paced(i: int) -> dict:
    """``task`` taking 10 ms in either process: neither can take all 12 before the other takes its first."""
    import time

    time.sleep(0.01)
    return task(i)


def shared(plan, caller_task=task) -> tuple:
    """A worker running ``plan`` and the results of 12 "tasks" (this process running ``caller_task``); stopped."""
    worker = sharing.Sharing(plan)
    try:
        return worker, worker.results("tasks", 12, caller_task)
    finally:
        worker.stop()


def test_every_task_is_done_once_by_one_of_the_two():
    worker, results = shared(lambda: ("tasks", 12, paced), paced)
    assert same(results, 12)
    assert 1 <= len(worker.by_worker) < 12 and len(set(worker.by_worker)) == len(worker.by_worker)
    assert sorted(worker.by_worker) == list(range(len(worker.by_worker)))  # the worker takes from the front
    assert results[3]["values"].flags.writeable  # arrays mapped from the worker's store can be written


def test_a_worker_planning_other_tasks_leaves_them_to_the_caller():
    worker, results = shared(lambda: ("other", 12, task))
    assert same(results, 12) and worker.by_worker == []


def test_a_worker_counting_other_tasks_stops_and_the_caller_does_them_all():
    worker, results = shared(lambda: ("tasks", 30, task))
    assert same(results, 12) and worker.by_worker == []


@pytest.mark.parametrize("failure", ["raises", "dies", "no plan"])
def test_a_failing_worker_leaves_its_tasks_to_the_caller(failure):
    caller = os.getpid()

    def failing(i: int) -> dict:
        if os.getpid() != caller:
            if failure == "dies":
                os._exit(3)
            raise ValueError("broken")
        return task(i)

    worker, results = shared(lambda: None if failure == "no plan" else ("tasks", 12, failing), failing)
    assert same(results, 12) and worker.by_worker == []


def test_stop_ends_a_busy_worker_at_once():
    import time

    def slow(i: int) -> dict:
        time.sleep(10)
        return task(i)

    worker = sharing.Sharing(lambda: ("tasks", 3, slow))
    pid = worker._pid
    tic = time.perf_counter()
    worker.stop()
    assert time.perf_counter() - tic < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped


def test_an_early_worker_is_adopted_once_by_the_reader_of_its_file(tmp_path):
    path = tmp_path / "preds.json"
    path.write_text("[]")
    sharing.start_early(str(path), lambda: ("tasks", 2, task))
    other = tmp_path / "other.json"
    other.write_text("[]")
    assert sharing.adopt(other) is None
    adopted = sharing.adopt(path)
    assert adopted is not None and sharing.adopt(path) is None
    try:
        assert same(adopted.results("tasks", 2, task), 2)
    finally:
        adopted.stop()


def test_an_early_worker_for_a_file_that_changed_is_not_adopted(tmp_path):
    path = tmp_path / "preds.json"
    path.write_text("[]")
    sharing.start_early(str(path), lambda: ("tasks", 2, task))
    path.write_text("[ ]")
    try:
        assert sharing.adopt(path) is None
    finally:
        sharing.stop_unadopted()
    assert sharing._EARLY == {}
