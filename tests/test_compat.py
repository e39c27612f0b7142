"""halpe_eval.compat against the real libraries in the frameworks' own call sequences (mmpose's CocoMetric
and CocoWholeBodyMetric, AlphaPose's evaluate_mAP, xtcocoapi's demos): the same stats, eval arrays (to 1e-9)
and summarize() text; the real library runs behind halpe-eval's oracle shims."""
import contextlib
import copy
import importlib
import io
import itertools
import json
import sys
import types
import warnings

import numpy as np
import pytest

import halpe_eval.compat as compat
from halpe_eval import evaluate, load_protocol
from halpe_eval.compat.flavours import FLAVOURS
from halpe_eval.oracles import nest
from halpe_eval.oracles.shims import oracle_shims
from halpe_eval.synthetic import SynthOptions, make_dataset

from conftest import ROOT, require_oracle
from oracle_cases import case

CWB = load_protocol("coco-wholebody")
COCO17_SIGMAS = np.array(load_protocol("coco17").sigmas)  # mmpose's dataset_meta["sigmas"]
WHOLEBODY_IOU_TYPES = ("keypoints_body", "keypoints_foot", "keypoints_face", "keypoints_lefthand",
                       "keypoints_righthand", "keypoints_wholebody")  # mmpose's, in its order
WHOLEBODY_PARTS = tuple(CWB.reference_parts)  # the same, our names, in the same order
pytestmark = pytest.mark.filterwarnings("ignore:'.*_score' not found:UserWarning")  # see test_part_score_warnings


@pytest.fixture(autouse=True)
def _nothing_installed():
    compat.uninstall()
    yield
    compat.uninstall()


def shared(folder, name):
    """A file of ../shared/FOLDER (or of fixtures/), or skip cleanly when the checkout has none."""
    path = ROOT / folder / name if folder == "fixtures" else ROOT.parent / "shared" / folder / name
    if not path.is_file():
        pytest.skip(f"{path} not present (../shared is only beside the project's own checkouts)")
    return str(path)


class Transcript:
    """The COCOeval objects of one call sequence and what their summarize() printed."""

    def __init__(self):
        self.evaluations, self.printed = [], io.StringIO()

    def run(self, evaluator, summarize_twice=False):
        evaluator.evaluate()
        evaluator.accumulate()
        with contextlib.redirect_stdout(self.printed):
            for _ in range(1 + summarize_twice):
                evaluator.summarize()
        self.evaluations.append(evaluator)

    def fingerprint(self):
        """(what, value) of every stats entry and eval array (halpecocotools: [{part: stats}], eval by part)."""
        found = []
        for evaluation in self.evaluations:
            by_part = evaluation.eval if isinstance(evaluation.stats, list) else {"": evaluation.eval}
            stats = evaluation.stats if isinstance(evaluation.stats, list) else [{"stats": evaluation.stats}]
            found += [(name, values) for entry in stats for name, values in entry.items()]
            found += [(f"{part} {key}", np.asarray(entry[key])) for part, entry in by_part.items()
                      for key in ("counts", "precision", "recall", "scores")]
        return found


def library(flavour, real):
    """COCO and COCOeval of the real library, or of the drop-in as the installed modules give them."""
    with oracle_shims() if real else compat.installed(flavour):
        return types.SimpleNamespace(COCO=require_oracle(f"{flavour}.coco").COCO,
                                     COCOeval=require_oracle(f"{flavour}.cocoeval").COCOeval)


def assert_same(flavour, sequence, *args):
    """``sequence(library, transcript, *args)``, real and drop-in, on copies of ``args``: the same results."""
    real, ours, real_library = Transcript(), Transcript(), library(flavour, real=True)
    with oracle_shims():
        sequence(real_library, real, *copy.deepcopy(args))
    sequence(library(flavour, real=False), ours, *copy.deepcopy(args))
    expected, got = real.fingerprint(), ours.fingerprint()
    assert [what for what, _ in got] == [what for what, _ in expected]
    for (what, value), (_, theirs) in zip(got, expected):
        assert np.shape(value) == np.shape(theirs), what
        np.testing.assert_allclose(value, theirs, rtol=0, atol=1e-9, err_msg=what)
    assert ours.printed.getvalue() == real.printed.getvalue()


def mmpose_coco_metric(lib, transcript, gt_file, res_file):
    """mmpose CocoMetric._do_python_keypoint_eval (xtcocotools)."""
    coco = lib.COCO(gt_file)
    coco_det = coco.loadRes(res_file)
    coco_eval = lib.COCOeval(coco, coco_det, "keypoints", COCO17_SIGMAS, True)
    coco_eval.params.useSegm = None
    transcript.run(coco_eval)


def coco_metric_pycocotools(lib, transcript, gt_file, res_file):
    """The same with pycocotools (its own sigma table)."""
    coco = lib.COCO(gt_file)
    coco_eval = lib.COCOeval(coco, coco.loadRes(res_file), "keypoints")
    coco_eval.params.useSegm = None
    transcript.run(coco_eval)


def mmpose_wholebody_metric(lib, transcript, gt_file, res_file):
    """mmpose CocoWholeBodyMetric._do_python_keypoint_eval: six runs, sigma slices by part."""
    coco = lib.COCO(gt_file)
    coco_det = coco.loadRes(res_file)
    sigmas, cuts = np.array(CWB.sigmas), np.cumsum([0, 17, 6, 68, 21, 21])
    for i, iou_type in enumerate(WHOLEBODY_IOU_TYPES):
        part_sigmas = sigmas if iou_type == "keypoints_wholebody" else sigmas[cuts[i]:cuts[i + 1]]
        coco_eval = lib.COCOeval(coco, coco_det, iou_type, part_sigmas, use_area=True)
        coco_eval.params.useSegm = None
        transcript.run(coco_eval)


def alphapose_evaluate_map(lib, transcript, gt_file, res_file):
    """AlphaPose evaluate_mAP(..., halpe=True), then its read of the per-part APs."""
    coco_gt = lib.COCO(gt_file)
    coco_eval = lib.COCOeval(coco_gt, coco_gt.loadRes(res_file), "keypoints")
    transcript.run(coco_eval, summarize_twice=True)  # a second summarize() appends five more entries
    ap = {part: coco_eval.stats[i][part][0] for i, part in enumerate(["body", "foot", "face", "hand", "fullbody"])}
    assert all(-1 <= value <= 1 for value in ap.values())


def xtcocoapi_demo_coco(lib, transcript, gt_file, res_file):
    """xtcocoapi demos/demo_coco.py (its sigma table is COCO's, /10 as in coco17's file)."""
    coco_gt = lib.COCO(gt_file)
    transcript.run(lib.COCOeval(coco_gt, coco_gt.loadRes(res_file), "keypoints", COCO17_SIGMAS, use_area=True))


def xtcocoapi_demo_wholebody(lib, transcript, gt_file, res_file):
    """xtcocoapi demos/demo_coco_wholebody.py: a sigma list per part, made an array."""
    coco_gt = lib.COCO(gt_file)
    coco_dt = coco_gt.loadRes(res_file)
    for iou_type, part in zip(WHOLEBODY_IOU_TYPES, WHOLEBODY_PARTS):
        sigmas = [CWB.sigmas[i] for i in CWB.parts[part]]
        transcript.run(lib.COCOeval(coco_gt, coco_dt, iou_type, np.array(sigmas), use_area=True))


def write(tmp_path, gt, preds):
    for name, data in (("gt.json", gt), ("results.json", preds)):
        (tmp_path / name).write_text(json.dumps(data))
    return str(tmp_path / "gt.json"), str(tmp_path / "results.json")


def nested_case(seed):
    """A COCO-WholeBody case in the nested format; odd seeds with part scores on some results."""
    gt, preds = case(seed, "coco-wholebody")
    rng = np.random.default_rng(seed)
    for pred in preds:
        pred.update({key: round(float(rng.uniform()), 2) for key in CWB.part_score_keys.values()
                     if seed % 2 and rng.random() < 0.7})
    return dict(gt, annotations=[nest(a, CWB) for a in gt["annotations"]]), [nest(p, CWB) for p in preds]


def jittered(gt, seed=7):
    """Two results per GT person of a real annotation file: a good one and a worse one."""
    rng, preds = np.random.default_rng(seed), []
    for ann, worse in itertools.product(gt["annotations"], range(2)):
        pred = {"image_id": ann["image_id"], "category_id": ann["category_id"], "score": float(rng.uniform())}
        for field in [name for name, _ in CWB.nested_fields] if "foot_kpts" in ann else ["keypoints"]:
            kps = np.array(ann[field], dtype=float).reshape(-1, 3)
            kps[:, :2] += rng.normal(0, 2 + 6 * worse, (len(kps), 2))
            kps[:, 2] = rng.uniform(0, 1, len(kps))
            pred[field] = kps.ravel().tolist()
        preds.append(pred)
    return preds


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("flavour", "sequence", "protocol"), [
    ("xtcocotools", mmpose_coco_metric, "coco17"),
    ("pycocotools", coco_metric_pycocotools, "coco17"),
    ("xtcocotools", mmpose_wholebody_metric, "coco-wholebody"),
    ("halpecocotools", alphapose_evaluate_map, "halpe136"),
], ids=["CocoMetric-xtcocotools", "CocoMetric-pycocotools", "CocoWholeBodyMetric", "AlphaPose"])
def test_call_sequences_on_seeded_cases(tmp_path, seed, flavour, sequence, protocol):
    data = nested_case(seed) if protocol == CWB.name else case(seed, protocol)
    assert_same(flavour, sequence, *write(tmp_path, *data))


XTCOCOAPI_COCO = ("real-data/xtcocoapi", "example_coco_val.json", "example_coco_preds.json")
XTCOCOAPI_WHOLEBODY = ("real-data/xtcocoapi", "example_wholebody_val.json", "example_wholebody_preds.json")


@pytest.mark.parametrize(("folder", "gt_file", "res_file", "flavour", "sequence"), [
    (*XTCOCOAPI_COCO, "xtcocotools", xtcocoapi_demo_coco),
    (*XTCOCOAPI_COCO, "xtcocotools", mmpose_coco_metric),
    (*XTCOCOAPI_COCO, "pycocotools", coco_metric_pycocotools),
    (*XTCOCOAPI_WHOLEBODY, "xtcocotools", xtcocoapi_demo_wholebody),
    (*XTCOCOAPI_WHOLEBODY, "xtcocotools", mmpose_wholebody_metric),
    ("peer-fixtures", "coco_wholebody_example_gt.json", "coco_wholebody_example_pred.json", "xtcocotools",
     mmpose_wholebody_metric),  # with per-part scores
    ("peer-fixtures", "test_halpe.json", None, "halpecocotools", alphapose_evaluate_map),
    ("peer-fixtures", "test_coco.json", None, "pycocotools", coco_metric_pycocotools),
    ("peer-fixtures", "test_coco_wholebody.json", None, "xtcocotools", mmpose_wholebody_metric),
    ("fixtures", "halpe136_gt.json", "halpe136_preds.json", "halpecocotools", alphapose_evaluate_map),
])
def test_call_sequences_on_real_files(tmp_path, folder, gt_file, res_file, flavour, sequence):
    """Real predictions where the folder has them; else two jittered results per annotated person."""
    gt_path = shared(folder, gt_file)
    if res_file is None:
        with open(gt_path) as f:
            gt = json.load(f)
        gt_path, res_path = write(tmp_path, gt, jittered(gt))
    else:
        res_path = shared(folder, res_file)
    assert_same(flavour, sequence, gt_path, res_path)


def test_halpecocotools_documented_bugs_stay_fixed_as_in_halpe_eval(tmp_path):
    """Crowd GT with keypoints: halpecocotools scores them as people; the drop-in ignores them, as halpe-eval."""
    files = write(tmp_path, *make_dataset(3, "halpe136", SynthOptions(crowd_rate=0.5, crowd_keypoints=True)))
    real, ours = Transcript(), Transcript()
    with oracle_shims():
        alphapose_evaluate_map(library("halpecocotools", real=True), real, *files)
    alphapose_evaluate_map(library("halpecocotools", real=False), ours, *files)
    ap = {transcript: transcript.evaluations[0].stats[4]["fullbody"][0] for transcript in (real, ours)}
    assert ap[ours] == pytest.approx(evaluate(*files).parts["wholebody"].stats["AP"], abs=1e-9) != ap[real]


def part_score_warnings(lib, gt, preds, iou_type):
    """The "'<part>_score' not found" warnings of one xtcocotools evaluate()."""
    part = WHOLEBODY_PARTS[WHOLEBODY_IOU_TYPES.index(iou_type)]
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        coco = indexed(lib.COCO(), gt)
        sigmas = np.array([CWB.sigmas[i] for i in CWB.parts[part]])
        lib.COCOeval(coco, coco.loadRes(copy.deepcopy(preds)), iou_type, sigmas).evaluate()
    return [str(w.message) for w in caught if "not found" in str(w.message)]


@pytest.mark.parametrize("share", [0, 0.5, 1])
@pytest.mark.parametrize("iou_type", ["keypoints_foot", "keypoints_body"])
def test_part_score_warnings(share, iou_type):
    gt, preds = nested_case(0)  # seed 0: no part scores
    preds = [dict(p, foot_score=0.5) if i < share * len(preds) else p for i, p in enumerate(preds)]
    expected = part_score_warnings(library("xtcocotools", real=True), gt, preds, iou_type)
    assert part_score_warnings(library("xtcocotools", real=False), gt, preds, iou_type) == expected
    assert bool(expected) == (iou_type == "keypoints_foot" and share < 1)


def with_settings(lib, transcript, gt_file, res_file, eval_args, settings):
    """A COCOeval whose params are set before evaluate(), as a user script sets them."""
    coco = lib.COCO(gt_file)
    coco_eval = lib.COCOeval(coco, coco.loadRes(res_file), *eval_args)
    for name, value in settings.items():
        setattr(coco_eval.params, name, value)
    transcript.run(coco_eval)


FLAVOUR_DATA = {  # flavour -> (data of a seed, the COCOeval arguments after the two COCO objects)
    "pycocotools": (lambda seed: case(seed, "coco17"), lambda: ("keypoints",)),
    "xtcocotools": (nested_case, lambda: ("keypoints_foot", np.array([CWB.sigmas[i] for i in CWB.parts["foot"]]))),
    "halpecocotools": (lambda seed: case(seed, "halpe136"), lambda: ("keypoints",)),
}
SETTINGS = {
    "image subset": lambda gt: {"imgIds": sorted(image["id"] for image in gt["images"])[::2]},
    "maxDets": lambda gt: {"maxDets": [20, 1, 5]},
    "area ranges": lambda gt: {"areaRng": [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]],
                               "areaRngLbl": ["all", "small", "medium", "large"]},
    "OKS thresholds": lambda gt: {"iouThrs": np.array([0.3, 0.5, 0.75, 0.9, 1.0])},
    "recall thresholds": lambda gt: {"recThrs": np.linspace(0, 1, 11)},
    "sigmas": lambda gt: {"kpt_oks_sigmas": COCO17_SIGMAS * 1.5},  # read by pycocotools only, as here
    "one category": lambda gt: {"catIds": [2]},
    "defaults": lambda gt: {},
}


def two_categories(gt, preds):
    """Every other image's people (GT and results) in a second category (default catIds: both); some misplaced."""
    second = {image["id"] for image in gt["images"][::2]}
    categories = gt["categories"] + [dict(gt["categories"][0], id=2, name="other")]
    anns = [dict(a, category_id=2 if a["image_id"] in second else 1) for a in gt["annotations"]]
    moved = [dict(p, category_id=2 if (p["image_id"] in second) != (i % 7 == 0) else 1) for i, p in enumerate(preds)]
    return dict(gt, categories=categories, annotations=anns), moved


@pytest.mark.parametrize("flavour", sorted(FLAVOUR_DATA))
@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_parameters_other_than_the_defaults(tmp_path, flavour, setting):
    data, eval_args = FLAVOUR_DATA[flavour]
    gt, preds = two_categories(*data(5))
    assert_same(flavour, with_settings, *write(tmp_path, gt, preds), eval_args(), SETTINGS[setting](gt))


@pytest.mark.parametrize("flavour", sorted(FLAVOUR_DATA))
def test_pooled_categories_are_refused_where_the_libraries_match_nothing(tmp_path, flavour):
    data, eval_args = FLAVOUR_DATA[flavour]
    files = write(tmp_path, *two_categories(*data(5)))
    real = Transcript()
    with oracle_shims():
        with_settings(library(flavour, real=True), real, *files, eval_args(), {"useCats": 0})
    stats = real.evaluations[0].stats
    values = np.concatenate([list(entry.values())[0] for entry in stats]) if isinstance(stats, list) else stats
    assert set(values) <= {0.0, -1.0}  # OKS computed for category -1, which has no records: nothing matches
    with pytest.raises(compat.NotSupported, match="useCats = 0"):
        with_settings(library(flavour, real=False), Transcript(), *files, eval_args(), {"useCats": 0})


def indexed(coco, gt):
    """``coco`` with a copy of ``gt`` set as its dataset and indexed, as the oracles' own code does."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
    return coco


@pytest.mark.parametrize("flavour", ["xtcocotools", "pycocotools"])
def test_ground_truth_records_and_lookups_as_the_coco_api(flavour):
    gt, _ = case(4, "coco17")
    image, area = gt["annotations"][3]["image_id"], gt["annotations"][3]["area"]
    real_gt, ours = (indexed(library(flavour, real).COCO(), gt) for real in (True, False))
    from_dict = library(flavour, real=False).COCO(copy.deepcopy(gt))  # the drop-in also reads a dict
    def found(c):  # the libraries' area filters differ at the lower bound: one annotation sits on it
        return (c.getImgIds(), c.getImgIds(imgIds=[image]), c.getImgIds(catIds=[1]), c.getCatIds(catNms=["person"]),
                c.getAnnIds(imgIds=image, iscrowd=False), c.getAnnIds(areaRng=[area, 1e10]),
                c.getAnnIds(imgIds=[image], catIds=[1], areaRng=[0, area]), c.loadAnns(c.getAnnIds(imgIds=image)),
                c.loadImgs(image), c.loadCats(1), c.anns, c.imgs, c.cats, dict(c.imgToAnns), dict(c.catToImgs))
    assert found(ours) == found(real_gt) == found(from_dict)


@pytest.mark.parametrize("seed", [0, 1])  # case 1's results carry a bbox: loadRes' other branch
@pytest.mark.parametrize("from_file", [False, True])
def test_results_records_as_load_res_writes_them(tmp_path, seed, from_file):
    gt, preds = case(seed, "coco17")
    source = write(tmp_path, gt, preds)[1] if from_file else preds
    with oracle_shims():
        real, ours = (indexed(library("pycocotools", real).COCO(), gt).loadRes(copy.deepcopy(source))
                      for real in (True, False))
    assert ours.dataset["annotations"] == real.dataset["annotations"]
    assert ours.dataset["images"] == real.dataset["images"] and ours.anns == real.anns
    assert ours.getAnnIds(imgIds=preds[0]["image_id"]) == real.getAnnIds(imgIds=preds[0]["image_id"])


def evaluate_drop_in(flavour, gt, preds, *eval_args, **eval_kwargs):
    """evaluate() of the drop-in on ``gt`` and ``preds``."""
    coco = indexed(FLAVOURS[flavour][0](), gt)
    with contextlib.redirect_stdout(io.StringIO()):
        FLAVOURS[flavour][1](coco, coco.loadRes(preds), *eval_args, **eval_kwargs).evaluate()


@pytest.mark.parametrize(("flavour", "protocol", "eval_args"), [
    ("xtcocotools", "coco17", ("bbox",)), ("pycocotools", "coco17", ()),  # cocoeval's default iouType: 'segm'
    ("xtcocotools", "coco17", ("keypoints_crowd",)), ("xtcocotools", "coco17", ("keypoints", None, False)),
    ("halpecocotools", "coco17", ("keypoints",)), ("pycocotools", "halpe136", ("keypoints",)),  # parts the
    ("xtcocotools", "coco17", ("keypoints_foot",)),  # ground truth's skeleton lacks, or has otherwise
])
def test_what_the_drop_in_does_not_score_is_refused_naming_the_real_library(flavour, protocol, eval_args):
    gt, preds = case(1, protocol)
    with pytest.raises(compat.NotSupported, match=f"use the real {flavour}"):
        evaluate_drop_in(flavour, gt, preds, *eval_args)
    with pytest.raises(compat.NotSupported, match=f"use the real {flavour}"):  # the COCO API reads boxes there
        evaluate_drop_in(flavour, gt, np.zeros((3, 7)), "keypoints")
    with pytest.raises(compat.NotSupported, match="use the real xtcocotools"):
        FLAVOURS["xtcocotools"][0](test_index=[0, 1])


def served(flavour):
    """The COCO and COCOeval that importing ``flavour`` gives now."""
    return importlib.import_module(flavour).coco.COCO, importlib.import_module(f"{flavour}.cocoeval").COCOeval


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_install_then_uninstall_restores_the_real_modules(flavour):
    real, names = library(flavour, real=True), [flavour, f"{flavour}.coco", f"{flavour}.cocoeval"]
    before = {name: sys.modules.get(name) for name in names}
    compat.install(flavour)
    compat.install(flavour)  # again: no change
    assert served(flavour) == FLAVOURS[flavour][:2]
    compat.uninstall(flavour)
    assert {name: sys.modules.get(name) for name in names} == before and served(flavour) == (real.COCO, real.COCOeval)


def test_without_the_real_library_a_stand_in_package_is_installed(monkeypatch):
    for name in [name for name in sys.modules if name.startswith("xtcocotools.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "xtcocotools", None)  # import xtcocotools now fails
    with compat.installed("xtcocotools"), pytest.raises(ImportError):
        assert served("xtcocotools") == FLAVOURS["xtcocotools"][:2]
        importlib.import_module("xtcocotools.mask")
    assert sys.modules["xtcocotools"] is None and "xtcocotools.coco" not in sys.modules


def test_the_custom_imports_module_installs_the_xtcocotools_drop_in(monkeypatch):
    monkeypatch.delitem(sys.modules, "halpe_eval.compat.mmpose", raising=False)
    importlib.import_module("halpe_eval.compat.mmpose")
    with compat.installed("xtcocotools"):  # leaves an earlier install in place
        pass
    assert served("xtcocotools") == FLAVOURS["xtcocotools"][:2]
