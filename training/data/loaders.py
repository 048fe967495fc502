"""Real-format loaders: COCO keypoints (17), MPII (16, the common JSON conversion) and our
BlazePose-33 JSON, mapped into Sample with missing keypoints masked (landmark_mask = 0)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from blazepose_sdk.geometry.topology import BLAZEPOSE_TO_COCO17
from training.data.sample import NUM_LANDMARKS, Sample, alignment_points

# MPII joint order (MPII Human Pose annotation docs): 0 r_ankle, 1 r_knee, 2 r_hip, 3 l_hip,
# 4 l_knee, 5 l_ankle, 6 pelvis, 7 thorax, 8 upper_neck, 9 head_top, 10 r_wrist, 11 r_elbow,
# 12 r_shoulder, 13 l_shoulder, 14 l_elbow, 15 l_wrist. -1 = no BlazePose counterpart.
MPII_TO_BLAZEPOSE = np.array([28, 26, 24, 23, 25, 27, -1, -1, -1, -1, 16, 14, 12, 11, 13, 15])


def _image_bytes(path: Path) -> bytes:
    """The file's bytes when it is a JPEG, else the image re-encoded as JPEG (quality 95)."""
    data = path.read_bytes()
    if data[:3] == b"\xff\xd8\xff":
        return data
    import cv2

    from training.data.sample import encode_jpeg

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return encode_jpeg(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _box_from_points(xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask > 0
    if not m.any():
        return np.zeros(4, np.float32)
    return np.r_[xy[m].min(0), xy[m].max(0)].astype(np.float32)


def _make(img: bytes, lm: np.ndarray, vis: np.ndarray, mask: np.ndarray, box, source: str, image_id: str) -> Sample:
    lm = lm.astype(np.float32)
    return Sample(image_jpeg=img, landmarks_px=lm, visibility=(vis * mask).astype(np.float32),
                  landmark_mask=mask.astype(np.float32), box_xyxy_px=np.asarray(box, np.float32),
                  alignment_px=alignment_points(lm, mask).astype(np.float32), source=source, image_id=image_id)


def load_coco(annotation_json: str | Path, image_dir: str | Path, min_keypoints: int = 1) -> list[Sample]:
    """One Sample per COCO person annotation with at least ``min_keypoints`` labelled.

    COCO v flags: 0 = not labelled (masked), 1 = labelled but not visible, 2 = visible.
    """
    d = json.loads(Path(annotation_json).read_text())
    images = {im["id"]: im for im in d["images"]}
    out, cache = [], {}
    for a in sorted(d["annotations"], key=lambda a: a["id"]):
        if a.get("iscrowd", 0) or a.get("num_keypoints", 0) < min_keypoints:
            continue
        kp = np.asarray(a["keypoints"], np.float64).reshape(17, 3)
        lm = np.zeros((NUM_LANDMARKS, 3))
        vis, mask = np.zeros(NUM_LANDMARKS), np.zeros(NUM_LANDMARKS)
        lm[BLAZEPOSE_TO_COCO17, :2] = kp[:, :2]
        mask[BLAZEPOSE_TO_COCO17] = kp[:, 2] > 0
        vis[BLAZEPOSE_TO_COCO17] = kp[:, 2] == 2
        x, y, w, h = a["bbox"]
        im = images[a["image_id"]]
        if im["id"] not in cache:
            cache[im["id"]] = _image_bytes(Path(image_dir) / im["file_name"])
        out.append(_make(cache[im["id"]], lm, vis, mask, (x, y, x + w, y + h), "coco", f"coco-{a['id']}"))
    return out


def load_mpii(annotation_json: str | Path, image_dir: str | Path) -> list[Sample]:
    """MPII in the common JSON conversion: a list of {"image", "joints" (16 x 2),
    "joints_vis" (16), optional "center", "scale"}. Joints at (-1, -1) or with
    joints_vis 0 are masked (MPII's visibility flag is not reliable, so visible = labelled)."""
    recs = json.loads(Path(annotation_json).read_text())
    out, cache = [], {}
    for i, r in enumerate(recs):
        j = np.asarray(r["joints"], np.float64).reshape(16, 2)
        jv = np.asarray(r.get("joints_vis", [1] * 16), np.float64)
        ok = (jv > 0) & (j[:, 0] >= 0) & (j[:, 1] >= 0)
        lm = np.zeros((NUM_LANDMARKS, 3))
        mask = np.zeros(NUM_LANDMARKS)
        for k, b in enumerate(MPII_TO_BLAZEPOSE):
            if b >= 0 and ok[k]:
                lm[b, :2] = j[k]
                mask[b] = 1
        name = r["image"]
        if name not in cache:
            cache[name] = _image_bytes(Path(image_dir) / name)
        out.append(_make(cache[name], lm, mask.copy(), mask, _box_from_points(lm[:, :2], mask), "mpii", f"mpii-{i}"))
    return out


def load_bp33(annotation_json: str | Path, image_dir: str | Path) -> list[Sample]:
    """Our BlazePose-33 JSON: {"version": 1, "people": [{"image": file, "landmarks_px":
    33 x [x, y] or [x, y, z] with null for unlabelled, "visibility": 33 (optional, default
    1 where labelled), "world_m": 33 x 3 (optional), "box_xyxy_px": 4 (optional)}]}."""
    d = json.loads(Path(annotation_json).read_text())
    out, cache = [], {}
    for i, p in enumerate(d["people"]):
        lm = np.zeros((NUM_LANDMARKS, 3))
        mask = np.zeros(NUM_LANDMARKS)
        for k, row in enumerate(p["landmarks_px"]):
            if row is None:
                continue
            lm[k, : len(row)] = row
            mask[k] = 1
        vis = np.asarray(p.get("visibility", mask), np.float64)
        box = p.get("box_xyxy_px") or _box_from_points(lm[:, :2], mask)
        if p["image"] not in cache:
            cache[p["image"]] = _image_bytes(Path(image_dir) / p["image"])
        s = _make(cache[p["image"]], lm, vis, mask, box, "bp33", p.get("id", f"bp33-{i}"))
        if p.get("world_m") is not None:
            s.world_m = np.asarray(p["world_m"], np.float32).reshape(NUM_LANDMARKS, 3)
            s.has_world = 1.0
        out.append(s)
    return out
