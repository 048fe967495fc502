"""``python -m training.data.copy_paste``: the command line of copy-paste (see the package)."""

from __future__ import annotations

import argparse
import json
import sys

from blazepose_sdk.errors import BlazePoseError
from training.data.copy_paste.cutouts import LandmarkSegmenter
from training.data.copy_paste.generator import generate
from training.data.copy_paste.inputs import CorpusIndex, find_corpus_json, list_backgrounds, list_records
from training.data.copy_paste.options import CopyPasteError, CopyPasteOptions

# the first line of the package docstring (the package imports this module: no import back)
DESCRIPTION = "Copy-paste augmentation: real labelled people cut out with the landmark model's segmentation"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.copy_paste", description=DESCRIPTION)
    ap.add_argument("--samples", nargs="+", required=True, help="TFRecord files or folders of them (labelled people)")
    ap.add_argument("--backgrounds", nargs="*", default=[], help="folders of real background frames (recursive)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--num", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="reference-heavy",
                    help="SDK pipeline whose landmark model segments (default %(default)s)")
    ap.add_argument("--landmark", default=None, help="landmark .tflite file instead of the pipeline's")
    ap.add_argument("--corpus", default=None,
                    help="the real corpus's corpus.json (default: found beside --backgrounds)")
    d = CopyPasteOptions()
    ap.add_argument("--synthetic-prob", type=float, default=d.synthetic_prob, help="share of procedural backgrounds")
    ap.add_argument("--max-side", type=int, default=d.max_side)
    ap.add_argument("--per-shard", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if a.num < 1:
        ap.error("--num must be >= 1")
    if not 0.0 <= a.synthetic_prob <= 1.0:
        ap.error("--synthetic-prob must lie in [0, 1]")
    if a.max_side < 64:
        ap.error("--max-side must be >= 64")
    try:
        from training.data.sample import read_tfrecords

        samples = read_tfrecords(list_records(a.samples))
        if not samples:
            raise CopyPasteError("the sample files hold no records")
        corpus_path = a.corpus or find_corpus_json(a.backgrounds)
        corpus = CorpusIndex(corpus_path)
        backgrounds, excluded = list_backgrounds(a.backgrounds, corpus)
        if not backgrounds and a.synthetic_prob < 1.0:
            print("copy_paste: no usable real backgrounds; all backgrounds will be procedural", file=sys.stderr)
        opt = CopyPasteOptions(synthetic_prob=a.synthetic_prob, max_side=a.max_side)
        with LandmarkSegmenter(a.model, a.landmark, a.threads) as seg:
            m = generate(samples, backgrounds, a.out, a.num, a.seed, seg, corpus, opt, a.per_shard,
                         not a.no_progress, {"segmentation_model": {"pipeline": None if a.landmark else a.model,
                                                                     **seg.describe()},
                                             "inputs": {"samples": [str(p) for p in a.samples],
                                                        "backgrounds": [str(p) for p in a.backgrounds]},
                                             "backgrounds_excluded": excluded})
    except BlazePoseError as exc:
        print(f"copy_paste: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"persons": {k: m["persons"][k] for k in ("read", "kept", "verdicts")}, "counts": m["counts"],
                      "seconds": m["seconds"]}))
    return 0
