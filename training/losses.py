"""Losses of the landmark network, the detector and distillation (TensorFlow; float32 in, float32 out).

Landmark targets (made by ``training.train_landmarks.landmark_targets``), per batch item:
``coords`` (R, 3) x, y, z in tensor pixels; ``coord_mask`` (R,) 1 = x, y labelled;
``z_mask`` (R,); ``visibility`` / ``presence`` (R,) 0/1 with ``vis_mask`` (R,);
``pose_presence`` (1,); ``world`` (R, 3) metres with ``world_mask`` (1,).
Rows are the model's 39 rows (33 landmarks, 2 auxiliary ROI points, 4 unused, masked).
"""

from __future__ import annotations

import math

import tensorflow as tf

from blazepose_sdk.geometry.topology import NUM_LANDMARKS
from training.config import FPD_ALPHA, HEATMAP_SIGMA, DetectorLossConfig, LandmarkLossConfig


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def wing_loss(diff, w: float, eps: float):
    """Wing loss (Feng et al., CVPR 2018, eq. 5) of absolute differences, elementwise."""
    a = tf.abs(diff)
    c = w - w * math.log(1.0 + w / eps)
    return tf.where(a < w, w * tf.math.log1p(a / eps), a - c)


def gaussian_heatmaps(points_cells, height: int, width: int, sigma: float):
    """(B, height, width, K) Gaussians exp(-d^2 / 2 sigma^2) (peak 1) about (B, K, 2+) points in
    heatmap cells (cell (row r, col c) at point (c, r), refine_with_heatmap's convention; x, y
    only). The one heatmap target of the repo (landmark losses, FPD targets,
    heatmap_decode.gaussian_heatmaps_np); float32, or float64 for float64 points."""
    pts = tf.convert_to_tensor(points_cells)
    dtype = tf.float64 if pts.dtype == tf.float64 else tf.float32
    pts = tf.cast(pts, dtype)
    dx = tf.range(width, dtype=dtype)[None, None, :, None] - pts[:, None, None, :, 0]  # (B, 1, W, K)
    dy = tf.range(height, dtype=dtype)[None, :, None, None] - pts[:, None, None, :, 1]  # (B, H, 1, K)
    return tf.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma))


def heatmap_offset_losses(heatmap_logits, offset, coords_px, mask, stride: int, sigma: float):
    """Heatmap BCE against Gaussian targets and L1 of the sub-cell offsets.

    The BCE is summed over each map and divided by the Gaussian's mass (2 pi sigma^2), then
    averaged over labelled landmarks; the offset target at cell (r, c) is
    (x / stride - c, y / stride - r), weighted by the Gaussian within ~2 sigma.
    """
    size = heatmap_logits.shape[1]
    k = heatmap_logits.shape[-1]
    pts = coords_px[:, :k, :2] / float(stride)
    target = gaussian_heatmaps(pts, size, size, sigma)
    m = tf.cast(mask[:, :k], tf.float32)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=heatmap_logits)
    per_map = tf.reduce_sum(bce, axis=[1, 2]) / (2.0 * math.pi * sigma * sigma)  # (B, K)
    hm_loss = _masked_mean(per_map, m)
    grid = tf.range(size, dtype=tf.float32)
    off_x = pts[:, None, None, :, 0] - grid[None, None, :, None]
    off_y = pts[:, None, None, :, 1] - grid[None, :, None, None]
    pred = tf.reshape(offset, [-1, size, size, k, 2])
    l1 = tf.abs(pred[..., 0] - off_x) + tf.abs(pred[..., 1] - off_y)
    wgt = tf.where(target > math.exp(-2.0), target, 0.0) * m[:, None, None, :]
    off_loss = tf.reduce_sum(l1 * wgt) / tf.maximum(tf.reduce_sum(wgt), 1.0)
    return hm_loss, off_loss


def landmark_losses(outputs: dict, targets: dict, cfg: LandmarkLossConfig, heatmap_stride: int = 4) -> dict:
    """All landmark losses and their weighted ``total``. ``outputs`` as build_landmark_model
    (heatmap/offset optional); ``targets`` as the module docstring."""
    lm = tf.cast(outputs["landmarks"], tf.float32)
    rows = lm.shape[1]
    pos = tf.cast(targets["pose_presence"], tf.float32)  # (B, 1): landmark terms only on people
    row_w = tf.concat([tf.ones([NUM_LANDMARKS]), tf.fill([rows - NUM_LANDMARKS], cfg.aux)], 0)[None]
    cmask = targets["coord_mask"] * pos * row_w
    out = {}
    xy_err = wing_loss(lm[..., :2] - targets["coords"][..., :2], cfg.wing_w, cfg.wing_eps)
    out["coords"] = _masked_mean(tf.reduce_sum(xy_err, -1), cmask)
    out["depth"] = _masked_mean(tf.abs(lm[..., 2] - targets["coords"][..., 2]), targets["z_mask"] * pos)
    vmask = targets["vis_mask"] * pos
    out["visibility"] = _masked_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=targets["visibility"], logits=lm[..., 3]), vmask)
    out["presence"] = _masked_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=targets["presence"], logits=lm[..., 4]), vmask)
    out["pose_presence"] = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=pos, logits=tf.cast(outputs["pose_presence"], tf.float32)))
    world = tf.cast(outputs["world"], tf.float32)[:, :NUM_LANDMARKS]
    werr = tf.reduce_sum(tf.abs(world - targets["world"][:, :NUM_LANDMARKS]), -1)  # (B, 33)
    wmask = tf.broadcast_to(targets["world_mask"] * pos, tf.shape(werr))
    out["world"] = _masked_mean(werr, wmask)
    total = (cfg.coords * out["coords"] + cfg.depth * out["depth"] + cfg.visibility * out["visibility"]
             + cfg.presence * out["presence"] + cfg.pose_presence * out["pose_presence"] + cfg.world * out["world"])
    if "heatmap" in outputs and (cfg.heatmap > 0 or cfg.offset > 0):
        hm, off = heatmap_offset_losses(tf.cast(outputs["heatmap"], tf.float32), tf.cast(outputs["offset"], tf.float32),
                                        targets["coords"], targets["coord_mask"][:, :NUM_LANDMARKS] * pos,
                                        heatmap_stride, cfg.heatmap_sigma)
        out["heatmap"], out["offset"] = hm, off
        total = total + cfg.heatmap * hm + cfg.offset * off
    out["total"] = total
    return out


# --- detector ---------------------------------------------------------------------------


def huber(diff, delta: float):
    a = tf.abs(diff)
    return tf.where(a < delta, 0.5 * a * a / delta, a - 0.5 * delta)


def detector_distill_losses(raw_boxes, raw_scores, teacher_boxes, teacher_scores, targets: dict, input_size: int,
                            teacher_weight: float = 1.0, box_weight: float = 1.0,
                            teacher_box_min_score: float = 0.5, teacher_box_size: bool = True,
                            huber_delta: float = 0.02, body_weight: float = 0.0,
                            body_teacher_max: float = 1.0) -> dict:
    """Fine-tuning a detector against labels on some anchors and a frozen teacher on the rest.

    ``targets``: ``labels`` (B, N) 1 = anchor matched to a labelled person, 0 = not, -1 = ignored
    (near a person, not matched); ``boxes`` (B, N, 12) raw targets of the matched anchors.
    ``teacher_boxes`` / ``teacher_scores``: the teacher's raw outputs on the same input.

    - ``labelled``: BCE towards 1 on the matched anchors, divided by their number.
    - ``teacher``: on unmatched anchors, BCE towards the teacher's probability minus its entropy
      (the KL divergence of two Bernoullis: 0 where the student agrees), summed per image and
      averaged over the batch, times ``teacher_weight``.
    - ``box``: Huber (in units of the input side, / ``huber_delta``) towards the label on matched
      anchors, towards the label on the other anchors of ``targets["box_mask"]`` (B, N) when given
      (anchors on a labelled body that regress its box), and towards the teacher's box (without its
      width and height unless ``teacher_box_size``) on the remaining unmatched anchors where the
      teacher's score is at least ``teacher_box_min_score``; each part averaged over its anchors;
      times ``box_weight``.
    - ``body``: BCE towards 0 on the anchors of ``targets["body"]`` (B, N) (unmatched anchors on a
      labelled person's body) where the teacher's probability is below ``body_teacher_max`` (1:
      all of them; lower leaves the teacher's own firing, around a big face, to the KL term),
      summed per image and averaged over the batch, times ``body_weight``; 0 without that key.
    """
    labels = tf.cast(targets["labels"], tf.float32)
    logits = tf.cast(raw_scores, tf.float32)[..., 0]
    t_prob = tf.stop_gradient(tf.sigmoid(tf.cast(teacher_scores, tf.float32)[..., 0]))
    posm = tf.cast(labels > 0.5, tf.float32)
    freem = tf.cast(tf.abs(labels) < 0.5, tf.float32)
    num_pos = tf.maximum(tf.reduce_sum(posm), 1.0)
    batch = tf.cast(tf.shape(logits)[0], tf.float32)
    labelled = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logits), logits=logits)
                             * posm) / num_pos
    eps = 1e-7
    entropy = -(t_prob * tf.math.log(t_prob + eps) + (1 - t_prob) * tf.math.log(1 - t_prob + eps))
    kl = tf.nn.sigmoid_cross_entropy_with_logits(labels=t_prob, logits=logits) - entropy
    teacher = tf.reduce_sum(kl * freem) / batch
    s = float(input_size)
    pos_err = huber((tf.cast(raw_boxes, tf.float32) - targets["boxes"]) / s, huber_delta) / huber_delta
    bodybox = tf.zeros_like(posm)
    if "box_mask" in targets:
        bodybox = tf.cast(targets["box_mask"], tf.float32) * (1.0 - posm)
    tmask = freem * (1.0 - bodybox) * tf.cast(t_prob >= teacher_box_min_score, tf.float32)
    t_err = huber((tf.cast(raw_boxes, tf.float32) - tf.stop_gradient(tf.cast(teacher_boxes, tf.float32))) / s,
                  huber_delta) / huber_delta
    if not teacher_box_size:  # the box size from the labels alone
        t_err = tf.concat([t_err[..., :2], t_err[..., 4:]], -1)
    box = (tf.reduce_sum(tf.reduce_sum(pos_err, -1) * posm) / num_pos
           + tf.reduce_sum(tf.reduce_sum(pos_err, -1) * bodybox) / tf.maximum(tf.reduce_sum(bodybox), 1.0)
           + tf.reduce_sum(tf.reduce_sum(t_err, -1) * tmask) / tf.maximum(tf.reduce_sum(tmask), 1.0))
    body = tf.zeros(())
    if "body" in targets:
        bodym = tf.cast(targets["body"], tf.float32) * tf.cast(t_prob < body_teacher_max, tf.float32)
        body = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(logits), logits=logits)
                             * bodym) / batch
    total = labelled + teacher_weight * teacher + box_weight * box + body_weight * body
    return {"labelled": labelled, "teacher": teacher, "box": box, "body": body, "positives": num_pos / batch,
            "total": total}


def detector_losses(raw_boxes, raw_scores, targets: dict, cfg: DetectorLossConfig, input_size: int) -> dict:
    """Classification + Huber regression over anchors.

    ``targets``: ``labels`` (B, N) 1 = anchor matched to a face, 0 = background, -1 = ignore;
    ``boxes`` (B, N, 12) raw targets (training.models.detector.encode_targets). Regression
    error is measured in units of the input side (raw / input_size). With "bce_hnm", all
    positives and the ``neg_pos_ratio`` x #positives highest-loss negatives of each image count
    (at least ``neg_pos_ratio`` negatives per image); the sum is divided by #positives.
    """
    labels = tf.cast(targets["labels"], tf.float32)
    logits = tf.cast(raw_scores, tf.float32)[..., 0]
    posm = tf.cast(labels > 0.5, tf.float32)
    negm = tf.cast(tf.abs(labels) < 0.5, tf.float32)
    num_pos = tf.maximum(tf.reduce_sum(posm), 1.0)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=posm, logits=logits)
    if cfg.cls == "focal":
        p = tf.sigmoid(logits)
        pt = posm * p + (1 - posm) * (1 - p)
        alpha = posm * cfg.focal_alpha + (1 - posm) * (1 - cfg.focal_alpha)
        cls = tf.reduce_sum(alpha * tf.pow(1 - pt, cfg.focal_gamma) * bce * (posm + negm)) / num_pos
    elif cfg.cls == "bce_hnm":
        n = tf.shape(logits)[1]
        k = tf.maximum(tf.cast(tf.reduce_sum(posm, 1) * cfg.neg_pos_ratio, tf.int32), int(cfg.neg_pos_ratio))
        k = tf.minimum(k, n)  # (B,)
        neg_loss = bce * negm - 1e9 * (1 - negm)
        top = tf.sort(neg_loss, axis=1, direction="DESCENDING")
        thresh = tf.gather(top, k - 1, axis=1, batch_dims=1)  # (B,)
        hard = tf.cast(neg_loss >= thresh[:, None], tf.float32) * negm
        hard = tf.stop_gradient(hard)
        cls = tf.reduce_sum(bce * (posm + hard)) / num_pos
    else:
        raise ValueError(f"unknown classification loss {cfg.cls!r}")
    err = (tf.cast(raw_boxes, tf.float32) - targets["boxes"]) / float(input_size)
    h = huber(err, cfg.huber_delta) / cfg.huber_delta  # ~ |err| / delta for large errors
    box = tf.reduce_sum(tf.reduce_sum(h[..., :4], -1) * posm) / num_pos
    pts = tf.reduce_sum(tf.reduce_sum(h[..., 4:], -1) * posm) / num_pos
    total = cfg.classification * cls + cfg.box * box + cfg.points * pts
    return {"classification": cls, "box": box, "points": pts, "total": total}


# --- distillation (FPD, training.distill) ------------------------------------------------


def gaussian_targets(landmarks_px, mask, height: int, width: int, stride: float, sigma: float = HEATMAP_SIGMA):
    """(B, K, 2+) tensor-pixel points and (B, K) weights -> (B, height, width, K) Gaussians
    (peak 1) and (B, K) joint weights (mask x inside the heatmap). Cell (r, c) = point (c, r) * stride."""
    pts = tf.cast(landmarks_px, tf.float32)[..., :2] / float(stride)
    target = gaussian_heatmaps(pts, height, width, sigma)
    inside = tf.cast((pts[..., 0] >= -0.5) & (pts[..., 0] <= width - 0.5)
                     & (pts[..., 1] >= -0.5) & (pts[..., 1] <= height - 0.5), tf.float32)
    return target, tf.cast(mask, tf.float32) * inside


def joints_mse(pred, target, weight, fg_weight: float = 0.0):
    """Per-sample heatmap MSE (B,): mean over joints of weight * 0.5 * mean((pred - target)^2)
    over the map (JointsMSELoss with target weights, as FPD and the reference trainers).

    ``fg_weight`` > 0 weights each cell by ``1 + fg_weight * target``: the few cells under a
    Gaussian count as much as the thousands of empty ones around it. With 0 (the reference
    loss) an all-zero map already scores 0.5 * mean(target^2), about 8e-4 for sigma 2 on 64x64,
    and a student trained from scratch can sit there for thousands of steps (docs/lab/2026-12-01_students_from_official.md)."""
    target = tf.cast(target, tf.float32)
    sq = tf.square(tf.cast(pred, tf.float32) - target)
    if fg_weight:
        sq = sq * (1.0 + float(fg_weight) * target)
    se = tf.reduce_mean(sq, axis=[1, 2])  # (B, K)
    return 0.5 * tf.reduce_mean(se * tf.cast(weight, tf.float32), axis=-1)


def _mix(kd, gt, has_gt, alpha: float):
    """alpha * kd + (1 - alpha) * gt per sample (alpha = 1 where there is no ground truth)."""
    a = tf.where(tf.cast(has_gt, tf.float32) > 0.5, float(alpha), 1.0)
    return tf.reduce_mean(a * kd + (1.0 - a) * gt)


def fpd_heatmap_loss(student, teacher, gt, gt_weight, has_gt, alpha: float = FPD_ALPHA,
                     teacher_weight=None, fg_weight: float = 0.0) -> dict:
    """FPD loss of heatmap students (module docstring). ``student``, ``teacher``, ``gt``:
    (B, h, w, K); ``gt_weight`` (B, K); ``has_gt`` (B,); ``teacher_weight`` (B, K) joint weights
    of the teacher term (None: all 1); ``fg_weight``: as :func:`joints_mse`. Returns total, kd
    and gt (batch means)."""
    tw = tf.ones_like(gt_weight) if teacher_weight is None else tf.stop_gradient(teacher_weight)
    kd = joints_mse(student, tf.stop_gradient(teacher), tw, fg_weight)
    gtl = joints_mse(student, gt, gt_weight, fg_weight)
    return {"total": _mix(kd, gtl, has_gt, alpha), "kd": tf.reduce_mean(kd), "gt": tf.reduce_mean(gtl)}


def fpd_coordinate_loss(student_xy, teacher_xy, teacher_weight, gt_xy, gt_mask, has_gt,
                        alpha: float = FPD_ALPHA) -> dict:
    """Coordinate-space FPD for regression students: masked mean L1 distance (tensor px) to
    the teacher's points (weighted by ``teacher_weight`` (B, K), e.g. its confidence) and to the
    labelled points (``gt_mask``), mixed as the heatmap loss. Points (B, K, 2+)."""
    def l1(a, b, w):
        d = tf.reduce_sum(tf.abs(tf.cast(a, tf.float32)[..., :2] - tf.cast(b, tf.float32)[..., :2]), -1)
        w = tf.cast(w, tf.float32)
        return tf.reduce_sum(d * w, -1) / tf.maximum(tf.reduce_sum(w, -1), 1.0)

    kd = l1(student_xy, tf.stop_gradient(teacher_xy), teacher_weight)
    gtl = l1(student_xy, gt_xy, gt_mask)
    return {"total": _mix(kd, gtl, has_gt, alpha), "kd": tf.reduce_mean(kd), "gt": tf.reduce_mean(gtl)}


def score_kd_loss(visibility_logit, presence, teacher_visibility, teacher_presence):
    """Per-sample BCE (B,) of a student's 33 visibility logits and pose presence (a probability)
    to a teacher's visibility and presence probabilities (soft targets)."""
    vis = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.stop_gradient(tf.cast(teacher_visibility, tf.float32)),
        logits=tf.cast(visibility_logit, tf.float32)[:, :NUM_LANDMARKS])
    p = tf.clip_by_value(tf.reshape(tf.cast(presence, tf.float32), [-1]), 1e-6, 1.0 - 1e-6)
    t = tf.stop_gradient(tf.reshape(tf.cast(teacher_presence, tf.float32), [-1]))
    pres = -(t * tf.math.log(p) + (1.0 - t) * tf.math.log(1.0 - p))
    return tf.reduce_mean(vis, -1) + pres


def aux_kd_loss(student_aux, teacher_aux, teacher_presence):
    """Mean L1 (crop px, |dx| + |dy| per point, mean of the 2 points) of the student's rows 33-34
    to the teacher's, each crop weighted by the teacher's presence (person-free crops add ~0)."""
    d = tf.reduce_mean(tf.reduce_sum(tf.abs(tf.cast(student_aux, tf.float32)[..., :2]
                                            - tf.stop_gradient(tf.cast(teacher_aux, tf.float32))), -1), -1)
    w = tf.reshape(tf.cast(teacher_presence, tf.float32), [-1])
    return tf.reduce_sum(d * w) / tf.maximum(tf.reduce_sum(w), 1.0)


def heatmap_kd_loss(student_logits, teacher_logits):
    """Mean squared difference of the student's and the teacher's 33 heatmaps after the sigmoid
    (the SDK refines landmark positions with them), summed over each map and averaged over joints
    and samples; 0 when the teacher gives no heatmap or its size differs."""
    s = tf.sigmoid(tf.cast(student_logits, tf.float32)[..., :NUM_LANDMARKS])
    t = tf.sigmoid(tf.stop_gradient(tf.cast(teacher_logits, tf.float32)))
    if t.shape[1] is not None and (t.shape[1] == 0 or t.shape[1:3] != s.shape[1:3]):
        return tf.constant(0.0)
    return tf.reduce_mean(tf.reduce_sum(tf.square(s - t), axis=[1, 2]))
