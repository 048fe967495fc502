"""The copy-paste run (training.data.copy_paste step 3): cut out every person, then write the
outputs, each a pure function of (inputs, model, seed, index), with manifest.json and
provenance.jsonl.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from training.data.copy_paste.compositing import crop_background, paste, synthetic_background
from training.data.copy_paste.cutouts import make_cutout
from training.data.copy_paste.inputs import Background, CorpusIndex, check_person, load_background
from training.data.copy_paste.options import CopyPasteError, CopyPasteOptions, MaskThresholds, SegmentFn
from training.data.sample import Sample, ShardedWriter


def load_persons(samples: list[Sample], segment: SegmentFn, corpus: CorpusIndex, t: MaskThresholds):
    """Check and cut out every sample; returns (cut-outs, per-person records, verdict counts)."""
    cuts, records, counts = [], [], {}
    for i, s in enumerate(samples):
        rgb = s.image_rgb()
        entry = corpus.find(s.image_jpeg, rgb)
        check_person(s, entry, i)
        origin = {"index": i, "image_id": s.image_id, "source": s.source,
                  "corpus_image": entry["image"] if entry else None,
                  "scene": entry["scene"] if entry else None,
                  "sha256": hashlib.sha256(s.image_jpeg).hexdigest()}
        verdict, cut, metrics = make_cutout(s, rgb, segment, t, origin)
        counts[verdict] = counts.get(verdict, 0) + 1
        records.append({**origin, "verdict": verdict, **metrics,
                        "touches": [k for k, v in cut.touches.items() if v] if cut else None})
        if cut is not None:
            cuts.append(cut)
    return cuts, records, counts


def person_weights(scenes: list[str]) -> np.ndarray:
    """Sampling probabilities of people: 1 / sqrt(people of the same scene), normalised. A video
    scene with 40 labelled frames of two people then gets sqrt(40) ~ 6 times one still's share,
    not 40 times (our choice between identity balance and pose variety)."""
    count: dict[str, int] = {}
    for s in scenes:
        count[s] = count.get(s, 0) + 1
    w = np.array([1.0 / math.sqrt(count[s]) for s in scenes])
    return w / w.sum()


def generate(samples: list[Sample], backgrounds: list[Background], out: str, num: int, seed: int,
             segment: SegmentFn, corpus: CorpusIndex, options: CopyPasteOptions | None = None,
             per_shard: int = 1000, progress: bool = True, extra_manifest: dict | None = None) -> dict:
    """Write ``num`` pasted samples to ``out``; returns the manifest (also manifest.json)."""
    from tqdm import tqdm

    o = options or CopyPasteOptions()
    t0 = time.perf_counter()
    cuts, persons, verdicts = load_persons(samples, segment, corpus, o.masks)
    if not cuts:
        raise CopyPasteError(f"no person survived the mask checks ({verdicts})")
    t_cut = time.perf_counter() - t0
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"outputs": 0, "real_background": 0, "synthetic_background": 0, "flipped": 0, "anchored": 0,
              "landmarks_visible_before": 0, "landmarks_visible_after": 0}
    usage = [0] * len(cuts)
    weights = person_weights([c.origin.get("scene") or c.origin["sha256"] for c in cuts])
    prov = []
    with ShardedWriter(str(out_dir / "copy_paste"), num, per_shard) as writer, \
            tqdm(total=num, desc="copy-paste", unit="sample", disable=not progress) as bar:
        for i in range(num):
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
            k = int(rng.choice(len(cuts), p=weights))
            cut = cuts[k]
            own = {cut.origin.get("scene"), cut.origin.get("sha256")} - {None}
            allowed = [b for b in backgrounds if b.scene not in own and b.sha256 not in own]
            use_synth = not allowed or rng.uniform() < o.synthetic_prob
            if use_synth:
                bg = synthetic_background(rng, o.max_side)
                bg_name = "synthetic"
            else:  # a scene first, then one of its frames (a long video is one scene)
                scenes = sorted({b.scene for b in allowed})
                scene = scenes[int(rng.integers(len(scenes)))]
                frames = [b for b in allowed if b.scene == scene]
                b = frames[int(rng.integers(len(frames)))]
                bg = crop_background(load_background(b, o.max_side), rng, o)
                bg_name = str(b.path)
            sample, info = paste(cut, bg, rng, o)
            sample.image_id = f"cp{seed}-{i:06d}"
            writer.write(sample)
            usage[k] += 1
            counts["outputs"] += 1
            counts["synthetic_background" if use_synth else "real_background"] += 1
            counts["flipped"] += int(info["flip"])
            counts["anchored"] += int(info["anchored"])
            counts["landmarks_visible_before"] += info["visible_before"]
            counts["landmarks_visible_after"] += info["visible_after"]
            prov.append({"image_id": sample.image_id, "person": cut.origin["index"],
                         "person_image_id": cut.origin["image_id"], "person_corpus_image": cut.origin["corpus_image"],
                         "background": bg_name, "size": [bg.shape[1], bg.shape[0]], **info})
            bar.update(1)
    manifest = {"generator": "training.data.copy_paste", "seed": int(seed), "num": int(num),
                "options": asdict(o), "corpus": str(corpus.path) if corpus.path else None,
                "persons": {"read": len(samples), "kept": len(cuts), "verdicts": verdicts, "records": persons,
                            "outputs_per_kept_person": usage},
                "backgrounds": {"usable": len(backgrounds), "scenes": sorted({b.scene for b in backgrounds})},
                "counts": counts, "seconds": {"cutouts": round(t_cut, 2), "total": round(time.perf_counter() - t0, 2)},
                "shards": [Path(p).name for p in writer.paths], **(extra_manifest or {})}
    (out_dir / "provenance.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prov))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest
