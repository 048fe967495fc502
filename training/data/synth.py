"""Synthetic labelled humans rendered from the anny body model on the CPU.

    python -m training.data.synth --out DIR --num N --seed S [--workers W] [--backgrounds DIR]

Sample i is a pure function of (seed, i) (numpy SeedSequence([seed, i])), and the main process
writes samples in index order, so the same seed gives byte-identical files for any --workers.
"""

from __future__ import annotations

import argparse
import json
import math
import os

# One BLAS/OpenMP thread per render process (the parallelism is across processes); must be set
# before numpy/torch load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.data import body as bodymod
from training.data.raster import rasterize
from training.data.sample import Sample, ShardedWriter, alignment_points, encode_jpeg

# Skin tones (RGB) from light to dark; a sample interpolates between two neighbours.
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 163], [224, 172, 125], [198, 134, 96],
                       [160, 102, 67], [120, 76, 50], [84, 54, 38]], np.float64)
HAIR_COLOURS = np.array([[20, 16, 14], [60, 40, 28], [110, 75, 45], [180, 140, 90],
                         [200, 200, 200], [140, 60, 30]], np.float64)


@dataclass
class SynthOptions:
    """Rendering options. Sizes in pixels, distances in metres, angles in degrees."""

    size_px: int = 256
    distance_m: tuple[float, float] = (2.5, 8.0)
    camera_height_m: tuple[float, float] = (-0.8, 1.8)  # relative to the pelvis
    max_roll_deg: float = 45.0
    person_fill: tuple[float, float] = (0.55, 0.95)  # longer box side / image side
    shift_frac: float = 0.1
    truncation_prob: float = 0.1  # fill up to 1.4: limbs may leave the image
    occluder_prob: float = 0.35
    motion_blur_prob: float = 0.2
    jpeg_quality: tuple[int, int] = (55, 95)
    background_dir: str | None = None
    # A video whose frames join the background pool (e.g. ../shared/data/vtest.avi: a street seen
    # from above; its pedestrians stay small at these crop sizes and act as clutter).
    background_video: str | None = None
    background_video_step: int = 20  # keep frames 0, step, 2 * step, ...
    background_video_side: tuple[float, float] = (0.6, 1.0)  # crop side / shorter frame side


class HumanRenderer:
    """Callable: index -> Sample. Loads anny once per process."""

    def __init__(self, seed: int, options: SynthOptions | None = None):
        self.seed = int(seed)
        self.opt = options or SynthOptions()
        self.body = bodymod.BodyModel.load()
        self.backgrounds = []
        if self.opt.background_dir:
            exts = {".jpg", ".jpeg", ".png", ".bmp"}
            self.backgrounds = sorted(p for p in Path(self.opt.background_dir).rglob("*")
                                      if p.suffix.lower() in exts)
        if self.opt.background_video:
            self.backgrounds += read_video_frames(self.opt.background_video, self.opt.background_video_step)

    # --- scene pieces ----------------------------------------------------------------------
    def _person(self, rng):
        params, fam = bodymod.sample_pose(rng, self.body.bone_index)
        phen = {k: np.array([v]) for k, v in bodymod.sample_phenotype(rng).items()}
        v, lm = self.body.pose(params[None], phen)
        yaw = rng.uniform(-math.pi, math.pi)
        c, s = math.cos(yaw), math.sin(yaw)
        rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        v, lm = v[0] @ rz.T, lm[0] @ rz.T
        ground = v[:, 2].min()
        v[:, 2] -= ground
        lm[:, 2] -= ground
        return v, lm, fam

    def _colours(self, rng) -> np.ndarray:
        """(V, 3) albedo in 0..1 for one person."""
        b = self.body
        t = rng.uniform(0, len(SKIN_TONES) - 1)
        i = int(t)
        skin = SKIN_TONES[i] + (SKIN_TONES[min(i + 1, len(SKIN_TONES) - 1)] - SKIN_TONES[i]) * (t - i)
        hsv = lambda: cv2.cvtColor(np.uint8([[[rng.integers(180), rng.integers(40, 256),
                                                  rng.integers(30, 256)]]]), cv2.COLOR_HSV2RGB)[0, 0].astype(float)
        shirt, shirt2, trousers, shoes = hsv(), hsv(), hsv(), hsv() * 0.5
        hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]
        pal = np.zeros((8, 3))
        pal[bodymod.PART_SKIN] = skin
        pal[bodymod.PART_SHIRT] = shirt
        pal[bodymod.PART_TROUSERS] = trousers
        pal[bodymod.PART_SHOES] = shoes
        pal[bodymod.PART_HAIR] = hair
        pal[bodymod.PART_EYE] = (40, 30, 25)
        pal[bodymod.PART_SLEEVE] = shirt if rng.uniform() < 0.5 else skin
        pal[bodymod.PART_LEG] = trousers if rng.uniform() < 0.7 else skin
        col = pal[b.vertex_part].copy()
        rv = b.rest_vertices
        pattern = rng.integers(3)  # plain, stripes, checks on the shirt
        if pattern:
            f = rng.uniform(15, 60)
            m = np.sin(rv[:, 2] * f) > 0
            if pattern == 2:
                m ^= np.sin(rv[:, 0] * f) > 0
            sel = m & np.isin(b.vertex_part, [bodymod.PART_SHIRT])
            col[sel] = shirt2
        return np.clip(col / 255.0, 0, 1)

    def _background(self, rng, n: int) -> np.ndarray:
        """(n, n, 3) float64 RGB in 0..1: with folder images / video frames, 70 %: a random
        square crop of one (BGR in memory, converted here); else procedural."""
        o_side = self.opt.background_video_side
        if self.backgrounds and rng.uniform() < 0.7:
            src = self.backgrounds[rng.integers(len(self.backgrounds))]
            frame = isinstance(src, np.ndarray)
            img = src if frame else cv2.imread(str(src), cv2.IMREAD_COLOR)
            if img is not None:
                h, w = img.shape[:2]
                side = int(rng.uniform(*(o_side if frame else (0.3, 1.0))) * min(h, w))
                y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
                crop = cv2.resize(img[y0:y0 + side, x0:x0 + side], (n, n), interpolation=cv2.INTER_AREA)
                return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float64) / 255.0
        # Procedural: a gradient, low-frequency noise, and random shapes.
        a, c = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        g = np.linspace(0, 1, n)[:, None, None]
        img = a + (c - a) * g * np.ones((1, n, 1))
        noise = cv2.resize(rng.uniform(-0.25, 0.25, (8, 8, 3)), (n, n), interpolation=cv2.INTER_CUBIC)
        img = np.clip(img + noise, 0, 1)
        img8 = (img * 255).astype(np.uint8)
        for _ in range(rng.integers(0, 12)):
            colour = tuple(int(x) for x in rng.integers(0, 256, 3))
            p = rng.integers(-n // 4, n + n // 4, 4)
            k = rng.integers(3)
            if k == 0:
                cv2.rectangle(img8, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, -1)
            elif k == 1:
                cv2.circle(img8, (int(p[0]), int(p[1])), int(rng.integers(5, n // 3)), colour, -1)
            else:
                cv2.line(img8, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, int(rng.integers(1, 8)))
        return img8.astype(np.float64) / 255.0

    # --- one sample -------------------------------------------------------------------------
    def __call__(self, index: int) -> Sample:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(index)]))
        o, n, b = self.opt, self.opt.size_px, self.body
        v, lm, fam = self._person(rng)
        people = [(v, self._colours(rng))]
        centre = 0.5 * (v.min(0) + v.max(0))
        # Camera on a sphere-ish shell around the person, looking at the body centre.
        dist = rng.uniform(*o.distance_m)
        heading = rng.uniform(-math.pi, math.pi)
        cam = centre + np.array([dist * math.cos(heading), dist * math.sin(heading), 0.0])
        cam[2] = centre[2] + rng.uniform(*o.camera_height_m)
        fwd = centre - cam
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        roll = math.radians(float(np.clip(rng.normal(0, o.max_roll_deg / 2.5), -o.max_roll_deg, o.max_roll_deg)))
        cr, sr = math.cos(roll), math.sin(roll)
        right, down = cr * right + sr * down, -sr * right + cr * down
        rot = np.stack([right, down, fwd])  # world -> camera rows
        if rng.uniform() < o.occluder_prob:
            ov, _, _ = self._person(rng)
            off = right * rng.uniform(-0.9, 0.9) + fwd * rng.uniform(-2.0, 1.2)
            off[2] = 0.0
            people.append((ov + off - np.array([0, 0, 0]) + np.array([centre[0], centre[1], 0]) * 0
                           + (centre * np.array([1, 1, 0])) - 0.5 * (ov.min(0) + ov.max(0)) * np.array([1, 1, 0]),
                           self._colours(rng)))
        to_cam = lambda p: (p - cam) @ rot.T
        vc = to_cam(v)
        uv = vc[:, :2] / vc[:, 2:3]
        lo, hi = uv.min(0), uv.max(0)
        fill = rng.uniform(*o.person_fill)
        if rng.uniform() < o.truncation_prob:
            fill = rng.uniform(1.0, 1.4)
        focal = fill * n / max(hi - lo)
        pp = n / 2 - focal * 0.5 * (lo + hi) + rng.uniform(-o.shift_frac, o.shift_frac, 2) * n
        k = np.array([[focal, 0, pp[0]], [0, focal, pp[1]], [0, 0, 1.0]])
        # Render all people into one z-buffer.
        all_xy, all_z, all_f, all_col, owner, off = [], [], [], [], [], 0
        light = rng.normal(size=3)
        light[2] = -abs(light[2]) - 0.3  # from the camera side
        light /= np.linalg.norm(light)
        ambient = rng.uniform(0.35, 0.6)
        for pi, (pv, alb) in enumerate(people):
            pc = to_cam(pv)
            xy = pc[:, :2] / pc[:, 2:3] * focal + pp
            nrm = vertex_normals(pc, b.faces)
            shade = ambient + (1 - ambient) * np.clip(-(nrm @ light), 0, 1)
            all_xy.append(xy)
            all_z.append(pc[:, 2])
            all_f.append(b.faces + off)
            all_col.append(alb * shade[:, None])
            owner.append(np.full(len(b.faces), pi))
            off += len(pv)
        faces = np.concatenate(all_f)
        r = rasterize(np.concatenate(all_xy), np.concatenate(all_z), faces, n, n)
        owner = np.concatenate(owner)
        col = np.concatenate(all_col)
        img = self._background(rng, n)
        hit = r.face_id >= 0
        fc = faces[r.face_id[hit]]
        img[hit] = (col[fc] * r.bary[hit][..., None]).sum(axis=1)
        img8 = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
        img8 = degrade(img8, rng, o)
        # Labels.
        lc = to_cam(lm)
        xy = lc[:, :2] / lc[:, 2:3] * focal + pp
        hip_c = 0.5 * (lc[23] + lc[24])
        z_px = (lc[:, 2] - hip_c[2]) * focal / hip_c[2]
        vis = landmark_visibility(xy, lc[:, 2], r.face_id, r.depth_m, owner, bodymod.VISIBILITY_TOLERANCE_M)
        mask = np.ones(33, np.float32)
        pxy = vc[:, :2] / vc[:, 2:3] * focal + pp
        box = clip_box(np.r_[pxy.min(0), pxy.max(0)], n)
        hxy = pxy[b.head_vertex]
        fbox = clip_box(np.r_[hxy.min(0), hxy.max(0)], n)
        lm_px = np.c_[xy, z_px].astype(np.float32)
        return Sample(
            image_jpeg=encode_jpeg(img8, int(rng.integers(o.jpeg_quality[0], o.jpeg_quality[1] + 1))),
            landmarks_px=lm_px, visibility=vis.astype(np.float32), landmark_mask=mask,
            box_xyxy_px=box, alignment_px=alignment_points(lm_px, mask).astype(np.float32),
            world_m=(lc - hip_c).astype(np.float32), has_world=1.0,
            face_box_xyxy_px=fbox, has_face_box=1.0,
            camera_k=k.astype(np.float32), hip_cam_m=hip_c.astype(np.float32),
            source=f"synth/anny/{fam}", image_id=f"synth-{self.seed}-{index:08d}",
        )


def read_video_frames(path: str, step: int) -> list[np.ndarray]:
    """Every ``step``-th frame of a video as BGR uint8 arrays (decoded once per process; the
    same FFmpeg build gives the same frames, so renders stay deterministic on one machine)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open background video {path}")
    frames, i = [], 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i % max(1, step) == 0:
            frames.append(f)
        i += 1
    cap.release()
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    return frames


def vertex_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit area-weighted vertex normals (V, 3) of a triangle mesh."""
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    vn = np.zeros_like(v)
    for j in range(3):
        for c in range(3):
            vn[:, c] += np.bincount(faces[:, j], weights=fn[:, c], minlength=len(v))
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def landmark_visibility(xy_px, depth_m, face_id, depth_buf, face_owner, tol_m, person=0) -> np.ndarray:
    """(N,) bool: in the image, the nearest surface at the landmark's pixel belongs to
    ``person`` and lies at most ``tol_m`` in front of the landmark's depth."""
    h, w = face_id.shape
    out = np.zeros(len(xy_px), bool)
    for i, (x, y) in enumerate(xy_px):
        if not (0 <= x < w and 0 <= y < h):
            continue
        fi = face_id[int(y), int(x)]
        if fi < 0 or face_owner[fi] != person:
            continue
        out[i] = depth_buf[int(y), int(x)] >= depth_m[i] - tol_m[i]
    return out


def clip_box(box, n) -> np.ndarray:
    return np.clip(np.asarray(box, np.float64), 0, n).astype(np.float32)


def degrade(img: np.ndarray, rng, o: SynthOptions) -> np.ndarray:
    """Camera effects: slight defocus, motion blur, sensor noise (JPEG is applied on encode)."""
    out = img
    if rng.uniform() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    if rng.uniform() < o.motion_blur_prob:
        L = int(rng.integers(3, 10))
        kern = np.zeros((L, L), np.float32)
        ang = rng.uniform(0, math.pi)
        c = (L - 1) / 2
        cv2.line(kern, (round(c - c * math.cos(ang)), round(c - c * math.sin(ang))),
                 (round(c + c * math.cos(ang)), round(c + c * math.sin(ang))), 1.0, 1)
        out = cv2.filter2D(out, -1, kern / kern.sum())
    sigma = rng.uniform(0, 6)
    out = np.clip(out.astype(np.float64) + rng.normal(0, sigma, out.shape), 0, 255).astype(np.uint8)
    return out


# --- CLI -----------------------------------------------------------------------------------
_RENDERER: HumanRenderer | None = None


def _init_worker(seed, opt):
    """One render process: single-threaded torch and OpenCV (parallelism is across processes;
    OpenCV's default pool has one thread per core in every worker)."""
    global _RENDERER
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _RENDERER = HumanRenderer(seed, opt)


def _render(i):
    return _RENDERER(i)


def _start_method() -> str:
    """"fork" (fast: workers inherit the imported modules) while this process has a single
    thread; "spawn" once any library has started threads (TensorFlow, tf.data, OpenMP pools),
    since a forked child can inherit a lock held by a thread that does not exist there and hang."""
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:  # no procfs: be safe
        return "spawn"
    return "fork" if threads == 1 else "spawn"


def _coco_export(samples: list[Sample], out_dir: Path) -> dict:
    """A COCO keypoints file (17 keypoints) for a few samples, images written beside it."""
    from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17, COCO17_NAMES, COCO17_SKELETON

    img_dir = out_dir / "preview"
    img_dir.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, s in enumerate(samples):
        name = f"{s.image_id}.jpg"
        (img_dir / name).write_bytes(s.image_jpeg)
        rgb = s.image_rgb()
        images.append({"id": i + 1, "file_name": f"preview/{name}", "height": rgb.shape[0], "width": rgb.shape[1]})
        kp = []
        for j in BLAZEPOSE_TO_COCO17:
            x, y = s.landmarks_px[j, :2]
            vflag = 0 if s.landmark_mask[j] == 0 else (2 if s.visibility[j] > 0 else 1)
            kp += [round(float(x), 2), round(float(y), 2), vflag]
        x0, y0, x1, y1 = (float(t) for t in s.box_xyxy_px)
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                     "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                     "area": round((x1 - x0) * (y1 - y0), 2), "keypoints": kp,
                     "num_keypoints": int(sum(1 for t in kp[2::3] if t > 0))})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17_NAMES),
                            "skeleton": [[a + 1, b + 1] for a, b in COCO17_SKELETON]}]}


def generate(out: str, num: int, seed: int, workers: int = 1, per_shard: int = 1000,
             coco_preview: int = 64, options: SynthOptions | None = None, progress: bool = True) -> dict:
    """Render ``num`` samples into ``out``; returns the manifest (also written as manifest.json)."""
    from tqdm import tqdm

    opt = options or SynthOptions()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    preview: list[Sample] = []
    with ShardedWriter(str(out_dir / "synth"), num, per_shard) as w:
        if workers <= 1:
            renderer = HumanRenderer(seed, opt)
            it = map(renderer, range(num))
            pool = None
        else:
            import multiprocessing as mp

            pool = mp.get_context(_start_method()).Pool(workers, _init_worker, (seed, opt))
            it = pool.imap(_render, range(num), chunksize=4)
        try:
            for s in tqdm(it, total=num, desc="render", unit="sample", disable=not progress):
                w.write(s)
                if len(preview) < coco_preview:
                    preview.append(s)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    (out_dir / "coco_preview.json").write_text(json.dumps(_coco_export(preview, out_dir), indent=1, sort_keys=True))
    manifest = {"generator": "training.data.synth", "seed": seed, "num": num, "size_px": opt.size_px,
                "backgrounds": opt.background_dir, "background_video": opt.background_video,
                "shards": [os.path.basename(p) for p in w.paths]}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.synth", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--num", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--per-shard", type=int, default=1000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--backgrounds", default=None, help="folder of background images (optional)")
    ap.add_argument("--background-video", default=None,
                    help="video whose frames are also used as backgrounds, e.g. ../shared/data/vtest.avi")
    ap.add_argument("--coco-preview", type=int, default=64)
    a = ap.parse_args(argv)
    opt = SynthOptions(size_px=a.size, background_dir=a.backgrounds, background_video=a.background_video)
    m = generate(a.out, a.num, a.seed, a.workers, a.per_shard, a.coco_preview, opt)
    print(json.dumps(m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
