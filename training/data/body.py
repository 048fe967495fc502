"""The anny body model as used by the synthetic renderer: loading, the 33 BlazePose landmark
definitions, body-part labels for clothing, and an anatomically limited pose sampler.

anny's frame (metres): x = the person's left, y = backwards (the face looks to -y), z = up, origin
at the pelvis. Bones named ``*.L`` are on the person's left (BlazePose "left").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# --- The 33 landmarks. Each is ("joint", bone) = the posed head of an anny bone (a joint centre
# inside the body), or ("vertex", rule) = one mesh vertex picked once on the neutral rest mesh by
# the rule in docs/data.md. Order = blazepose_sdk.geometry.topology.LANDMARK_NAMES.
LANDMARK_SOURCES: tuple[tuple[str, str], ...] = (
    ("vertex", "nose"),
    ("vertex", "left_eye_inner"), ("vertex", "left_eye"), ("vertex", "left_eye_outer"),
    ("vertex", "right_eye_inner"), ("vertex", "right_eye"), ("vertex", "right_eye_outer"),
    ("vertex", "left_ear"), ("vertex", "right_ear"),
    ("vertex", "mouth_left"), ("vertex", "mouth_right"),
    ("joint", "upperarm01.L"), ("joint", "upperarm01.R"),
    ("joint", "lowerarm01.L"), ("joint", "lowerarm01.R"),
    ("joint", "wrist.L"), ("joint", "wrist.R"),
    ("joint", "finger5-1.L"), ("joint", "finger5-1.R"),
    ("joint", "finger2-1.L"), ("joint", "finger2-1.R"),
    ("joint", "finger1-3.L"), ("joint", "finger1-3.R"),
    ("joint", "upperleg01.L"), ("joint", "upperleg01.R"),
    ("joint", "lowerleg01.L"), ("joint", "lowerleg01.R"),
    ("joint", "foot.L"), ("joint", "foot.R"),
    ("vertex", "left_heel"), ("vertex", "right_heel"),
    ("vertex", "left_foot_index"), ("vertex", "right_foot_index"),
)

# Visibility depth tolerance (metres): a landmark is visible when the nearest surface at its
# pixel belongs to the same person and lies at most this far in front of it. Joints sit inside
# the limb, so their tolerance is about the limb radius (our choice, adult proportions).
VISIBILITY_TOLERANCE_M: np.ndarray = np.array(
    [0.02] * 11
    + [0.09, 0.09, 0.06, 0.06, 0.045, 0.045, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03]
    + [0.12, 0.12, 0.08, 0.08, 0.06, 0.06]
    + [0.02] * 4
)

PART_SKIN, PART_SHIRT, PART_TROUSERS, PART_SHOES, PART_HAIR, PART_EYE, PART_SLEEVE, PART_LEG = range(8)


def load_anny():
    """The anny model (float64, CPU). The first call builds anny's cache (~1 min); later ~0.5 s."""
    import anny
    import torch

    torch.set_num_threads(1)
    return anny.Anny()


@dataclass
class BodyModel:
    """numpy view of what the renderer needs from anny."""

    model: object  # anny.Anny
    faces: np.ndarray  # (F, 3) int
    landmark_vertex: np.ndarray  # (33,) vertex index, -1 for joint landmarks
    landmark_bone: np.ndarray  # (33,) bone index, -1 for vertex landmarks
    vertex_part: np.ndarray  # (V,) PART_* label for colouring
    bone_index: dict
    head_vertex: np.ndarray  # (V,) bool, anny's "head" UV segment (face box)
    rest_vertices: np.ndarray  # (V, 3) neutral rest mesh, for clothing patterns

    @classmethod
    def load(cls) -> BodyModel:
        import torch
        from anny.face_segmentation import get_face_segmentation_mask

        m = load_anny()
        faces = m.faces.numpy().astype(np.int64)
        bones = {n: i for i, n in enumerate(m.bone_labels)}
        with torch.no_grad():
            out = m(pose_parameters=neutral_pose(m.bone_count)[None],
                    phenotype_kwargs={k: torch.full((1,), 0.5) for k in m.phenotype_labels})
        rest_v = out["vertices"][0].numpy()
        heads = out["bone_poses"][0, :, :3, 3].numpy()
        seg = {}
        for label in ("head", "hand.L", "hand.R", "foot.L", "foot.R", "eye_front.L", "eye_front.R"):
            fm = get_face_segmentation_mask(m, [label])
            vm = np.zeros(len(rest_v), bool)
            vm[faces[fm].ravel()] = True
            seg[label] = vm
        lv = np.full(33, -1, np.int64)
        lb = np.full(33, -1, np.int64)
        picks = pick_landmark_vertices(rest_v, seg, heads, bones)
        for i, (kind, key) in enumerate(LANDMARK_SOURCES):
            if kind == "joint":
                lb[i] = bones[key]
            else:
                lv[i] = picks[key]
        part = vertex_parts(rest_v, seg, m, heads, bones)
        return cls(m, faces, lv, lb, part, bones, seg["head"], rest_v)

    def pose(self, pose_params: np.ndarray, phenotype: dict) -> tuple[np.ndarray, np.ndarray]:
        """Posed vertices (B, V, 3) and the 33 landmarks (B, 33, 3), anny frame, metres."""
        import torch

        with torch.no_grad():
            out = self.model(pose_parameters=torch.as_tensor(pose_params, dtype=torch.float64),
                             phenotype_kwargs={k: torch.as_tensor(v, dtype=torch.float64)
                                               for k, v in phenotype.items()})
        v = out["vertices"].numpy()
        heads = out["bone_poses"][:, :, :3, 3].numpy()
        lm = np.where((self.landmark_bone >= 0)[None, :, None],
                      heads[:, np.maximum(self.landmark_bone, 0)],
                      v[:, np.maximum(self.landmark_vertex, 0)])
        return v, lm


def neutral_pose(bone_count: int):
    import torch

    return torch.eye(4, dtype=torch.float64)[None].repeat(bone_count, 1, 1)


def _nearest(points: np.ndarray, mask: np.ndarray, target: np.ndarray) -> int:
    idx = np.nonzero(mask)[0]
    return int(idx[np.argmin(np.linalg.norm(points[idx] - target, axis=1))])


def pick_landmark_vertices(v: np.ndarray, seg: dict, heads: np.ndarray, bones: dict) -> dict:
    """Vertex indices for the face and foot landmarks, by the rules in docs/data.md, on the
    neutral rest mesh ``v`` (anny frame)."""
    head = seg["head"] & ~seg["eye_front.L"] & ~seg["eye_front.R"]
    out = {}
    mid = head & (np.abs(v[:, 0]) < 0.004)
    out["nose"] = int(np.nonzero(mid)[0][np.argmin(v[mid, 1])])
    nose = v[out["nose"]]
    for side, sx in (("left", 1.0), ("right", -1.0)):
        ef = seg[f"eye_front.{side[0].upper()}"]
        apex = int(np.nonzero(ef)[0][np.argmin(v[ef, 1])])
        out[f"{side}_eye"] = apex
        a = v[apex]
        out[f"{side}_eye_inner"] = _nearest(v, head, a + [-sx * 0.016, 0.006, 0.0])
        out[f"{side}_eye_outer"] = _nearest(v, head, a + [sx * 0.018, 0.012, 0.0])
        band = head & (v[:, 2] > a[2] - 0.045) & (v[:, 2] < a[2] - 0.005)
        ib = np.nonzero(band)[0]
        out[f"{side}_ear"] = int(ib[np.argmax(sx * v[ib, 0])])
        out[f"mouth_{side}"] = _nearest(v, head, nose + [sx * 0.024, 0.014, -0.048])
        foot = seg[f"foot.{side[0].upper()}"]
        fi = np.nonzero(foot)[0]
        ankle_z = heads[bones[f"foot.{side[0].upper()}"], 2]
        low = fi[v[fi, 2] < ankle_z - 0.03]
        out[f"{side}_heel"] = int(low[np.argmax(v[low, 1])])
        out[f"{side}_foot_index"] = int(fi[np.argmin(v[fi, 1])])
    return out


def vertex_parts(v: np.ndarray, seg: dict, m, heads: np.ndarray, bones: dict) -> np.ndarray:
    """A PART_* label per vertex from anny's UV segmentation and dominant skinning bone."""
    names = list(m.bone_labels)
    bi = m.vertex_bone_indices.numpy()
    bw = m.vertex_bone_weights.numpy()
    dom = np.array([names[i] for i in bi[np.arange(len(bi)), bw.argmax(1)]])
    part = np.full(len(v), PART_SHIRT, np.int64)
    is_ = lambda *pre: np.array([any(d.startswith(p) for p in pre) for d in dom])
    part[is_("pelvis", "upperleg", "root")] = PART_TROUSERS
    part[is_("lowerleg")] = PART_LEG
    part[is_("lowerarm")] = PART_SLEEVE
    part[is_("neck")] = PART_SKIN
    part[seg["hand.L"] | seg["hand.R"]] = PART_SKIN
    part[seg["foot.L"] | seg["foot.R"]] = PART_SHOES
    part[seg["head"]] = PART_SKIN
    eye_z = heads[bones["eye.L"], 2]
    head_y = heads[bones["head"], 1]
    hair = seg["head"] & ((v[:, 2] > eye_z + 0.045) | ((v[:, 1] > head_y + 0.0) & (v[:, 2] > eye_z - 0.06)))
    part[hair] = PART_HAIR
    part[seg["eye_front.L"] | seg["eye_front.R"]] = PART_EYE
    return part


# --- Pose sampling -------------------------------------------------------------------------
# Angles (degrees) are rotations about the world-aligned axes of anny's 'local-ref'
# parameterisation: flex = about x, abd = about y, twist = about z. Signs below are for the
# person's LEFT side; the right side mirrors abd and twist. Ranges are our reading of standard
# active range-of-motion tables (AAOS), kept slightly inside them.
JOINT_LIMITS_DEG = {
    # name: (flex range, abd range, twist range); negative flex moves a limb forwards
    "upperleg01": ((-125, 25), (-15, 45), (-35, 35)),
    "lowerleg01": ((0, 140), (0, 0), (-10, 10)),
    "foot": ((-30, 20), (-10, 10), (-15, 15)),
    "upperarm01": ((-175, 50), (-175, 30), (-60, 60)),
    "lowerarm01": ((-145, 0), (0, 0), (-30, 30)),
    "wrist": ((-60, 60), (-25, 25), (-40, 40)),
    "spine03": ((-20, 40), (-20, 20), (-25, 25)),
    "spine01": ((-10, 20), (-10, 10), (-15, 15)),
    "neck01": ((-35, 40), (-25, 25), (-50, 50)),
}

POSE_FAMILIES = ("standing", "walking", "arms_up", "sitting", "crouching", "yoga", "fitness", "lying")


def _euler(flex: float, abd: float, twist: float) -> np.ndarray:
    """Rotation matrix Rz(twist) @ Ry(abd) @ Rx(flex), angles in degrees."""
    a, b, c = np.radians([flex, abd, twist])
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def sample_pose(rng: np.random.Generator, bones: dict, family: str | None = None) -> tuple[np.ndarray, str]:
    """(B, 4, 4) local-ref pose deltas for one plausible pose, and its family name."""
    fam = family or POSE_FAMILIES[rng.integers(len(POSE_FAMILIES))]
    u = rng.uniform
    ang: dict[str, list[float]] = {}  # key "name.L" -> [flex, abd, twist]

    def put(name, side, flex=0.0, abd=0.0, twist=0.0):
        ang[f"{name}.{side}" if side else name] = [flex, abd, twist]

    for s in "LR":
        put("upperarm01", s, u(-25, 15), u(-15, 25), u(-20, 20))
        put("lowerarm01", s, u(-40, 0), 0, u(-20, 20))
        put("upperleg01", s, u(-10, 8), u(-3, 10), u(-10, 10))
        put("lowerleg01", s, u(0, 10))
        put("wrist", s, u(-30, 30), u(-15, 15), u(-20, 20))
        put("foot", s, u(-10, 10))
    put("spine03", "", u(-5, 10), u(-5, 5), u(-10, 10))
    put("spine01", "", u(-5, 5), u(-5, 5), u(-5, 5))
    put("neck01", "", u(-15, 20), u(-10, 10), u(-30, 30))
    root = [0.0, 0.0, 0.0]
    side = "LR"[rng.integers(2)]
    other = "R" if side == "L" else "L"
    if fam == "walking":
        swing = u(15, 35)
        put("upperleg01", side, -swing, u(0, 5))
        put("lowerleg01", side, u(5, 30))
        put("upperleg01", other, swing * u(0.4, 0.8), u(0, 5))
        put("lowerleg01", other, u(10, 60))
        put("upperarm01", side, swing * u(0.5, 1.2), u(-10, 10))
        put("upperarm01", other, -swing * u(0.5, 1.2), u(-10, 10))
        put("lowerarm01", other, u(-60, -10))
    elif fam == "arms_up":
        for s in "LR":
            if s == side or u() < 0.6:
                put("upperarm01", s, u(-30, 10), u(-170, -110), u(-30, 30))
                put("lowerarm01", s, u(-90, 0), 0, u(-20, 20))
    elif fam == "sitting":
        for s in "LR":
            put("upperleg01", s, u(-105, -75), u(0, 20), u(-10, 10))
            put("lowerleg01", s, u(60, 110))
            put("upperarm01", s, u(-50, 0), u(-10, 20))
            put("lowerarm01", s, u(-100, -30))
        put("spine03", "", u(0, 25))
    elif fam == "crouching":
        for s in "LR":
            put("upperleg01", s, u(-125, -95), u(5, 30), u(-15, 15))
            put("lowerleg01", s, u(110, 140))
            put("foot", s, u(-30, -10))
            put("upperarm01", s, u(-80, -20), u(-10, 20))
            put("lowerarm01", s, u(-90, -10))
        put("spine03", "", u(15, 40))
        root = [u(15, 35), 0.0, 0.0]
    elif fam == "yoga":
        kind = rng.integers(3)
        if kind == 0:  # tree: one foot on the other knee, arms overhead
            put("upperleg01", side, u(-60, -30), u(35, 45), u(20, 35))
            put("lowerleg01", side, u(110, 140))
            for s in "LR":
                put("upperarm01", s, u(-20, 10), u(-175, -150))
                put("lowerarm01", s, u(-40, 0))
        elif kind == 1:  # warrior / lunge, arms spread
            put("upperleg01", side, u(-95, -70), u(0, 10))
            put("lowerleg01", side, u(70, 100))
            put("upperleg01", other, u(15, 25), u(0, 15))
            for s in "LR":
                put("upperarm01", s, u(-20, 20), u(-100, -70))
                put("lowerarm01", s, u(-15, 0))
        else:  # forward fold / side bend
            put("spine03", "", u(25, 40), u(-20, 20))
            put("spine01", "", u(10, 20))
            for s in "LR":
                put("upperleg01", s, u(-100, -60), u(0, 10))
                put("upperarm01", s, u(-120, -60), u(-10, 10))
            root = [u(10, 30), 0.0, 0.0]
    elif fam == "fitness":
        kind = rng.integers(3)
        if kind == 0:  # squat with arms forward
            for s in "LR":
                put("upperleg01", s, u(-110, -70), u(5, 25))
                put("lowerleg01", s, u(80, 120))
                put("upperarm01", s, u(-100, -75), u(-10, 10))
                put("lowerarm01", s, u(-20, 0))
            put("spine03", "", u(10, 30))
        elif kind == 1:  # jumping jack
            for s in "LR":
                put("upperleg01", s, u(-10, 5), u(15, 30))
                put("upperarm01", s, u(-20, 10), u(-175, -120))
        else:  # plank / push-up (lying face down on hands)
            for s in "LR":
                put("upperarm01", s, u(-100, -80), u(-10, 10))
                put("lowerarm01", s, u(-30, 0))
            root = [u(-80, -60), 0.0, 0.0]
    elif fam == "lying":
        for s in "LR":
            put("upperleg01", s, u(-40, 10), u(0, 30), u(-20, 20))
            put("lowerleg01", s, u(0, 60))
            put("upperarm01", s, u(-60, 30), u(-160, 20), u(-30, 30))
            put("lowerarm01", s, u(-100, 0))
        root = [[-90.0, 90.0][rng.integers(2)] + u(-10, 10), u(-20, 20), 0.0]
    params = np.tile(np.eye(4), (len(bones), 1, 1))
    for key, (fl, ab, tw) in ang.items():
        base = key.split(".")[0]
        lim = JOINT_LIMITS_DEG[base]
        fl, ab, tw = (float(np.clip(x, *r)) for x, r in zip((fl, ab, tw), lim))
        if key.endswith(".R"):
            ab, tw = -ab, -tw
        params[bones[key], :3, :3] = _euler(fl, ab, tw)
    params[bones["root"], :3, :3] = _euler(root[0], root[1], root[2])
    return params, fam


def sample_phenotype(rng: np.random.Generator) -> dict:
    """anny phenotype values in [0, 1] (age 0.5 is about 25 years in anny's scale; we keep
    teenagers to seniors, both sexes, thin to heavy, short to tall)."""
    return {
        "gender": float(rng.uniform(0, 1)),
        "age": float(rng.uniform(0.35, 1.0)),
        "muscle": float(rng.uniform(0, 1)),
        "weight": float(rng.uniform(0, 1)),
        "height": float(rng.uniform(0, 1)),
        "proportions": float(rng.uniform(0, 1)),
    }
