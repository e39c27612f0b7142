"""The layout's promises, checked: protocols stay data, modules stay small, every extension is one file."""
import ast
import json
from pathlib import Path

import pytest

from halpe_eval import builtin_names, load_protocol
from halpe_eval.output import WRITERS
from halpe_eval.reading.formats import registered

PACKAGE = Path(__file__).resolve().parents[1] / "halpe_eval"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 400


def _part_names() -> set:
    """Part names of the built-in protocols and the oracles' names for them ("keypoints", the COCO field and
    cocoeval's iouType, is not one)."""
    names = set()
    for protocol in map(load_protocol, builtin_names()):
        names |= set(protocol.parts) | set(protocol.mean_parts) | set(protocol.reference_parts.values())
    return names - {"keypoints"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_part_name_is_written_in_code(path):
    """A string literal equal to a part name (or an oracle's name for one) would make a protocol code."""
    part_names = _part_names()
    literals = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)
                and isinstance(node.value, str) and node.value in part_names]
    assert not literals, [(node.lineno, node.value) for node in literals]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small_and_say_what_they_are_for(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    assert ast.get_docstring(ast.parse(text)), f"{path} has no module docstring"


def test_every_builtin_protocol_file_carries_its_reporting_and_oracle_data():
    for name in builtin_names():
        raw = json.loads((PACKAGE / "protocols" / f"{name}.json").read_text())
        protocol = load_protocol(name)
        assert protocol.whole_part in protocol.parts
        if raw.get("reference"):
            scored = {p for row in protocol.part_names() for p in protocol.components(row)}
            assert scored <= set(protocol.reference_parts), name


def test_input_formats_and_writers_are_registered_in_one_place():
    assert [f.key for f in registered()][-1] == "coco"  # the catch-all is offered last
    assert {"table", "markdown", "csv", "json"} <= set(WRITERS)
    on_disk = {p.stem for p in (PACKAGE / "reading" / "formats").glob("*.py")} - {"__init__"}
    assert on_disk == {f.key for f in registered()}


def test_the_worked_example_in_the_protocol_docs_needs_no_code(tmp_path):
    """docs/protocols.md's benchmark with a 'small' area range: its file alone gives COCO's numbers plus APs."""
    from halpe_eval import evaluate

    from oracle_cases import case

    docs = (PACKAGE.parent / "docs" / "protocols.md").read_text()
    example = docs.split("# coco17-small.toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "coco17-small.toml"
    path.write_text(example)
    gt, preds = case(3, "coco17")
    small = evaluate(gt, preds, str(path)).parts["body"].stats
    coco = evaluate(gt, preds, "coco17").parts["body"].stats
    assert list(small) == ["AP", "AP50", "APs", "APm", "APl"]
    assert all(small[s] == coco[s] for s in ("AP", "AP50", "APm", "APl"))
    assert small["APs"] is not None and small["APs"] != small["APm"]


def test_import_is_lazy_and_public_names_resolve():
    """``import halpe_eval`` loads no stage module; each public name still resolves to its home's object."""
    import subprocess
    import sys

    probe = (
        "import sys, halpe_eval\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('halpe_eval.'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

    import halpe_eval
    from halpe_eval.pipeline import evaluate
    from halpe_eval.streaming import StreamingEvaluator

    assert halpe_eval.evaluate is evaluate
    assert halpe_eval.StreamingEvaluator is StreamingEvaluator
    assert set(halpe_eval.__all__) <= set(dir(halpe_eval))
    for name in halpe_eval.__all__:
        assert getattr(halpe_eval, name) is not None
