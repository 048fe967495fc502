"""Calibrated cameras and robust triangulation: ground truth that no single model made.

Pure numpy/OpenCV math, no files read here except the calibration text handed in. Conventions:

* ``Camera``: OpenCV's pinhole model. ``rotation`` (3, 3) and ``translation_m`` (3,) map world
  points (metres) into the camera frame (x right, y down, z forward): ``X_cam = R @ X_world + t``.
  ``k`` is the (3, 3) intrinsic matrix in image pixels, ``dist`` OpenCV's (k1, k2, p1, p2).
* Image points ``xy_px``: pixels of the frame as decoded (index j at j).
* Observations of one joint: arrays over N (view, model) pairs: ``view`` (N,) camera indices,
  ``xy_px`` (N, 2), ``model`` (N,) model indices.

Robust triangulation (:func:`robust_triangulate`) is the usual hypothesise-and-verify loop:
every pair of observations from two different views proposes a 3D point (linear DLT on
undistorted, normalised points); the proposal with the most observations reprojecting within
``inlier_px`` wins (ties: the smaller summed error), and is refined by DLT on all its inliers.
A point counts only when its inliers span at least ``min_views`` views and ``min_models``
different models, so no single model's mistake becomes a label.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from itertools import combinations

import cv2
import numpy as np

# Qualisys .qca calibration files give intrinsics in sub-pixel units of 1/64 pixel (the unit
# Pose2Sim's qca reader divides by when it converts the demo's calibration).
QCA_SUBPIXELS = 64.0
# Qualisys cameras look along -z with y up; OpenCV's look along +z with y down: a half turn
# about the camera's x axis (the same turn Pose2Sim applies when it converts .qca files).
QCA_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Camera:
    """One calibrated camera (see the module docstring for the frames)."""

    name: str
    k: np.ndarray
    dist: np.ndarray
    rotation: np.ndarray
    translation_m: np.ndarray
    size: tuple[int, int]  # (width, height) pixels of the calibrated sensor window
    projection: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "projection", np.hstack([self.rotation, self.translation_m.reshape(3, 1)]))

    def shifted(self, dx_px: float, dy_px: float = 0.0) -> "Camera":
        """The same camera for frames whose pixel (0, 0) is the sensor's (dx, dy): a cropped video."""
        k = self.k.copy()
        k[0, 2] -= dx_px
        k[1, 2] -= dy_px
        return Camera(self.name, k, self.dist, self.rotation, self.translation_m, self.size)


def read_qca(text: str) -> list[Camera]:
    """The cameras of a Qualisys ``.qca.txt`` calibration (XML).

    ``transform`` holds the camera's position (mm) and its world -> camera rotation; ``intrinsic`` the focal lengths, principal point and distortion in 1/64 pixels of the
    sensor; ``fov_video`` the window of the sensor the video frames show.
    """
    root = ET.fromstring(text)
    cameras = []
    for tag in root.findall("cameras/camera"):
        fov = tag.find("fov_video")
        tr = tag.find("transform")
        it = tag.find("intrinsic")
        if fov is None or tr is None or it is None:
            raise ValueError(f"camera {tag.get('serial')!r}: fov_video, transform or intrinsic missing")
        left, top = float(fov.get("left")), float(fov.get("top"))
        width = int(float(fov.get("right")) - left + 1)
        height = int(float(fov.get("bottom")) - top + 1)
        m = np.array([[float(tr.get(f"r{i}{j}")) for j in (1, 2, 3)] for i in (1, 2, 3)])
        position_m = np.array([float(tr.get(a)) for a in "xyz"]) / 1000.0
        # m (r11..r33 row by row) turns world axes into the camera's Qualisys axes; the camera
        # sits at position_m.
        rotation = QCA_TO_OPENCV @ m
        translation = -rotation @ position_m
        fx, fy = float(it.get("focalLengthU")) / QCA_SUBPIXELS, float(it.get("focalLengthV")) / QCA_SUBPIXELS
        cx = float(it.get("centerPointU")) / QCA_SUBPIXELS - left
        cy = float(it.get("centerPointV")) / QCA_SUBPIXELS - top
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        dist = np.array([float(it.get(a)) for a in ("radialDistortion1", "radialDistortion2",
                                                     "tangentalDistortion1", "tangentalDistortion2")]) / QCA_SUBPIXELS
        cameras.append(Camera(str(tag.get("serial")), k, dist, rotation, translation, (width, height)))
    if not cameras:
        raise ValueError("no cameras in the calibration")
    return cameras


def project(camera: Camera, xyz_m: np.ndarray) -> np.ndarray:
    """(N, 2) image pixels of (N, 3) world points, with the camera's radial-tangential
    distortion (OpenCV's model: k1, k2, p1, p2); NaN for a point at or behind the camera."""
    pts = np.asarray(xyz_m, dtype=np.float64).reshape(-1, 3) @ camera.rotation.T + camera.translation_m
    z = pts[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = pts[:, 0] / z, pts[:, 1] / z
    k1, k2, p1, p2 = camera.dist
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2 * r2
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    out = np.column_stack([camera.k[0, 0] * xd + camera.k[0, 1] * yd + camera.k[0, 2], camera.k[1, 1] * yd + camera.k[1, 2]])
    out[z <= 0] = np.nan
    return out


def normalised(camera: Camera, xy_px: np.ndarray) -> np.ndarray:
    """(N, 2) undistorted normalised image coordinates (x/z, y/z in the camera frame)."""
    pts = np.asarray(xy_px, dtype=np.float64).reshape(-1, 1, 2)
    return cv2.undistortPoints(pts, camera.k, camera.dist).reshape(-1, 2)


def triangulate(projections: list[np.ndarray], xy_norm: np.ndarray) -> np.ndarray:
    """(3,) least-squares (DLT) point seen at ``xy_norm`` (N, 2) by N >= 2 cameras whose
    (3, 4) ``projections`` map world points to normalised coordinates."""
    rows = []
    for p, (x, y) in zip(projections, np.asarray(xy_norm, dtype=np.float64)):
        rows.append(x * p[2] - p[0])
        rows.append(y * p[2] - p[1])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1]
    return h[:3] / h[3]


@dataclass(frozen=True)
class Triangulated:
    """A robustly triangulated point: ``xyz_m`` (3,) world metres, or None when no proposal
    had enough support; ``inliers`` (N,) bool over the observations; ``errors_px`` (N,)
    reprojection errors of every observation (inf where not computed)."""

    xyz_m: np.ndarray | None
    inliers: np.ndarray
    errors_px: np.ndarray


def reprojection_errors(cameras: list[Camera], view: np.ndarray, xy_px: np.ndarray, xyz_m: np.ndarray) -> np.ndarray:
    """(N,) pixel distance between each observation and the point's projection into its view;
    inf for a point behind that camera."""
    projected = np.vstack([project(cam, xyz_m) for cam in cameras])[np.asarray(view, dtype=int)]
    errors = np.linalg.norm(np.asarray(xy_px, dtype=np.float64) - projected, axis=1)
    return np.where(np.isnan(errors), np.inf, errors)


def robust_triangulate(cameras: list[Camera], view: np.ndarray, xy_px: np.ndarray, model: np.ndarray,
                       inlier_px: float, min_views: int = 2, min_models: int = 2) -> Triangulated:
    """One joint from its observations (see the module docstring)."""
    view = np.asarray(view, dtype=int)
    model = np.asarray(model, dtype=int)
    xy_px = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
    n = len(view)
    none = Triangulated(None, np.zeros(n, bool), np.full(n, np.inf))
    if n < 2 or len(np.unique(view)) < min_views:
        return none
    norm = np.empty((n, 2))
    for v in np.unique(view):
        norm[view == v] = normalised(cameras[v], xy_px[view == v])
    projections = [cameras[v].projection for v in view]
    best: tuple[int, float, np.ndarray] | None = None
    for i, j in combinations(range(n), 2):
        if view[i] == view[j]:
            continue
        xyz = triangulate([projections[i], projections[j]], norm[[i, j]])
        errors = reprojection_errors(cameras, view, xy_px, xyz)
        inliers = errors < inlier_px
        score = (int(inliers.sum()), -float(np.minimum(errors, inlier_px).sum()))
        if best is None or score > best[:2]:
            best = (score[0], score[1], xyz)
    if best is None:
        return none
    errors = reprojection_errors(cameras, view, xy_px, best[2])
    inliers = errors < inlier_px
    if len(np.unique(view[inliers])) < min_views or len(np.unique(model[inliers])) < min_models:
        return none
    xyz = triangulate([projections[i] for i in np.flatnonzero(inliers)], norm[inliers])
    errors = reprojection_errors(cameras, view, xy_px, xyz)
    refined = errors < inlier_px
    if len(np.unique(view[refined])) < min_views or len(np.unique(model[refined])) < min_models:
        return Triangulated(best[2], inliers, reprojection_errors(cameras, view, xy_px, best[2]))
    return Triangulated(xyz, refined, errors)
