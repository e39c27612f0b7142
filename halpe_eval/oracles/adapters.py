"""One entry per official evaluator (being filled in)."""
ORACLE_NAMES = ("halpecocotools", "xtcocotools", "pycocotools")
