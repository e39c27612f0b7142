"""Seeded synthetic cases shared by the parity tests."""
from halpe_eval.synthetic import SynthOptions, make_dataset

NUM_CASES = 60


def case_options(seed: int) -> SynthOptions:
    """Vary the knobs by seed so the suite covers every convention (see test_case_coverage)."""
    return SynthOptions(
        num_images=12 + seed % 25,
        max_people=3 + seed % 6,
        bbox=seed % 4 == 1,
        crowd_rate=0.3 if seed % 3 == 0 else 0.05,
        crowded_image_rate=0.15 if seed % 5 == 0 else 0.03,
        score_decimals=1 if seed % 7 == 0 else 2,
    )


def case(seed: int, protocol: str = "halpe136"):
    return make_dataset(seed, protocol, case_options(seed))
