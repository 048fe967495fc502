"""A small numpy z-buffer triangle rasteriser (CPU, no display, deterministic).

All inputs are in image pixels: ``xy_px`` has pixel centres at integer + 0.5, ``depth_m`` is the
camera-frame depth (metres, positive in front of the camera). Perspective-correct depth is
obtained by interpolating 1/depth linearly in screen space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Triangles are grouped by bounding-box size; each group is scanned with a square window of this
# many pixels per side (powers of two up to the largest image side).
_IZ_MAX = (1 << 25) - 1  # 1/z up to 32 m^-1 (depth >= 3 cm) in 25 bits
_WINDOW_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass
class Raster:
    """Per-pixel result. ``face_id`` is -1 where nothing was drawn; ``depth_m`` is +inf there.
    ``bary`` holds the barycentric weights (H, W, 3) of the winning triangle's vertices."""

    face_id: np.ndarray
    depth_m: np.ndarray
    bary: np.ndarray


def rasterize(xy_px: np.ndarray, depth_m: np.ndarray, faces: np.ndarray, height: int, width: int,
              cull_backfaces: bool = True, near_m: float = 0.05) -> Raster:
    """Rasterise triangles ``faces`` (F, 3) over vertices ``xy_px`` (V, 2) / ``depth_m`` (V,).

    A pixel is covered when its centre lies inside the triangle (edge functions, top-left ties
    broken by ``>=``). Ties in depth go to the lower face index, so the result is deterministic.
    With ``cull_backfaces`` triangles whose screen winding is clockwise (in y-down pixels, i.e.
    counter-clockwise seen by a y-up camera) are dropped.
    """
    xy = np.asarray(xy_px, np.float64)
    z = np.asarray(depth_m, np.float64)
    f = np.asarray(faces, np.int64)
    if len(f) >= 1 << 17 or height * width >= 1 << 21:
        raise ValueError("rasterize() supports < 131072 faces and < 2^21 pixels")
    p0, p1, p2 = xy[f[:, 0]], xy[f[:, 1]], xy[f[:, 2]]
    area = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    keep = (z[f].min(axis=1) > near_m) & (np.abs(area) > 1e-12)
    if cull_backfaces:
        keep &= area < 0
    lo = np.floor(np.minimum(np.minimum(p0, p1), p2) - 0.5).astype(np.int64)
    hi = np.ceil(np.maximum(np.maximum(p0, p1), p2) - 0.5).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    keep &= (hi[:, 0] >= lo[:, 0]) & (hi[:, 1] >= lo[:, 1])
    ext = np.max(hi - lo + 1, axis=1)
    all_pix, all_inv_z, all_face, all_bary = [], [], [], []
    inv_z = 1.0 / np.maximum(z, 1e-9)
    prev = 0
    for s in _WINDOW_SIZES:
        sel = np.nonzero(keep & (ext > prev) & (ext <= s))[0]
        prev = s
        if sel.size == 0:
            continue
        oy, ox = np.mgrid[0:s, 0:s]
        px = lo[sel, 0:1] + ox.reshape(1, -1)  # (n, s*s)
        py = lo[sel, 1:2] + oy.reshape(1, -1)
        cx, cy = px + 0.5, py + 0.5
        a0, a1, a2 = p0[sel], p1[sel], p2[sel]
        ar = area[sel][:, None]
        w0 = ((a1[:, 0:1] - cx) * (a2[:, 1:2] - cy) - (a1[:, 1:2] - cy) * (a2[:, 0:1] - cx)) / ar
        w1 = ((a2[:, 0:1] - cx) * (a0[:, 1:2] - cy) - (a2[:, 1:2] - cy) * (a0[:, 0:1] - cx)) / ar
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px <= hi[sel, 0:1]) & (py <= hi[sel, 1:2])
        r, c = np.nonzero(inside)
        fs = sel[r]
        b = np.stack([w0[r, c], w1[r, c], w2[r, c]], axis=1)
        iz = (b * inv_z[f[fs]]).sum(axis=1)
        all_pix.append(py[r, c] * width + px[r, c])
        all_inv_z.append(iz)
        all_face.append(fs)
        all_bary.append(b)
    face_id = np.full(height * width, -1, np.int64)
    depth = np.full(height * width, np.inf)
    bary = np.zeros((height * width, 3))
    if all_pix:
        pix = np.concatenate(all_pix)
        iz = np.concatenate(all_inv_z)
        fid = np.concatenate(all_face)
        bb = np.concatenate(all_bary)
        # Nearest first (largest 1/z, quantised to 2^-20 per metre^-1), then lowest face id;
        # the first entry of each pixel wins. One int64 sort key: pix | depth | face.
        q = (_IZ_MAX - np.clip(np.round(iz * 2.0**20), 0, _IZ_MAX)).astype(np.int64)
        key = (pix << 42) | (q << 17) | (fid & 0x1FFFF)
        order = np.argsort(key, kind="stable")
        pix, iz, fid, bb = pix[order], iz[order], fid[order], bb[order]
        first = np.ones(pix.size, bool)
        first[1:] = pix[1:] != pix[:-1]
        face_id[pix[first]] = fid[first]
        depth[pix[first]] = 1.0 / iz[first]
        # Perspective-correct barycentrics for attribute interpolation.
        pb = bb[first] * inv_z[f[fid[first]]]
        bary[pix[first]] = pb / pb.sum(axis=1, keepdims=True)
    return Raster(face_id.reshape(height, width), depth.reshape(height, width),
                  bary.reshape(height, width, 3))
