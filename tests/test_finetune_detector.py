"""training.finetune_detector: teacher labels, small-people views, anchor targets, the
distillation loss and the training CLI (tiny runs; the real run is a script, docs/lab/2026-12-01_multi_person.md)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from blazepose_sdk.geometry.anchors import decode_boxes  # noqa: E402
from blazepose_sdk.stages.detector import PoseDetector, decode_options  # noqa: E402
from blazepose_sdk.assets.models import model_file_from_path  # noqa: E402
from blazepose_sdk.geometry.roi import Roi, letterbox_roi  # noqa: E402
from blazepose_sdk.stages.runtime import TFLiteModel  # noqa: E402
from training.detector_views import (  # noqa: E402
    POSITIVE_RADIUS_PX,
    TEACHER_BOX_SIDE,
    ViewOptions,
    anchor_strides,
    assign_anchors,
    body_anchors,
    body_owner,
    compose_view,
    face_boxes,
    flip_rows,
    rows_in_cell,
    view_targets,
)
from training.finetune_detector import main, same_person_doubles, synthetic_frames  # noqa: E402
from training.losses import detector_distill_losses  # noqa: E402
from training.models.detector import BACKGROUND, IGNORED, sdk_anchors  # noqa: E402


def _row(face_c, hip, circle):
    """A detection row (12,) in pixels: 20 px face box at face_c, hip, circle, two more points."""
    x, y = face_c
    return np.array([x - 10, y - 10, x + 10, y + 10, *hip, *circle, x, y + 15, x, y - 40], np.float64)


def _person(cx, hip_y, height):
    """(33, 5) landmarks px of an upright stick person, visible: head at hip_y - 0.5 height, feet
    at hip_y + 0.5 height; shoulders (11, 12) 0.3 height above the hips (23, 24)."""
    lm = np.zeros((33, 5))
    lm[:, 0] = cx + np.linspace(-0.1, 0.1, 33) * height
    lm[:, 1] = np.linspace(hip_y - 0.5 * height, hip_y + 0.5 * height, 33)
    lm[[11, 12], 1] = hip_y - 0.3 * height
    lm[[23, 24], 1] = hip_y
    lm[[11, 23], 0] = cx - 0.1 * height
    lm[[12, 24], 0] = cx + 0.1 * height
    lm[:, 3:] = 1.0
    return lm


def _mask(shape, x0, y0, x1, y1):
    m = np.zeros(shape, np.float32)
    m[y0:y1, x0:x1] = 0.9
    return m


def test_same_person_doubles_keeps_the_detection_that_saw_the_whole_person():
    whole = _person(100, 200, 200)  # hips (100, 200), head at y=100, feet at y=300
    # the body circle about the hips holds every landmark: radius ~101 px, ROI side 2 x 1.25 x that
    good = Roi(100, 150, 252, 0.0)
    part = Roi(100, 150, 90, 0.0)  # a chest box's upper-body ROI
    other = _person(400, 200, 200)
    rois = [part, good, Roi(400, 150, 252, 0.0)]
    # same landmarks in the part's ROI: a double, and the part is the one dropped (worse fit)
    assert same_person_doubles(rois, rois, [whole, whole + 2.0, other]) == [0]
    # landmarks drawn smaller in the part's ROI (too unlike for the keypoint test) but on the
    # same body: caught by the masks (the small one lies inside the big one)
    small = _person(100, 160, 90)
    masks = [_mask((400, 500), 80, 115, 120, 210), _mask((400, 500), 70, 95, 130, 305),
             _mask((400, 500), 370, 95, 430, 305)]
    assert same_person_doubles(rois, rois, [small, whole, other]) == []
    assert same_person_doubles(rois, rois, [small, whole, other], masks) == [0]
    # two people side by side: nothing dropped, with or without masks
    assert same_person_doubles(rois[1:], rois[1:], [whole, other], masks[1:]) == []


def test_flip_rows_mirrors_and_twice_is_identity():
    r = _row((30, 40), (32, 120), (32, 20))[None]
    f = flip_rows(r, 200)
    assert f[0, :4].tolist() == [200 - 40, 30, 200 - 20, 50]  # box stays xmin < xmax
    assert f[0, 4:6].tolist() == [168, 120]
    np.testing.assert_allclose(flip_rows(f, 200), r)


def test_rows_in_cell_hand_computed():
    # a 400x200 frame letterboxed (ROI side 400 centred at (200, 100)) into the 56 px cell at (112, 56)
    roi = letterbox_roi(400, 200)
    r = np.stack([_row((100, 100), (100, 150), (100, 50)), _row((395, 100), (395, 150), (395, 50))])
    centres, kps = rows_in_cell(r, roi, (112, 56), 56, 224)
    # x: 100/400 of the cell; y: (100 - 100 + 200) / 400 = 0.5 of the cell
    np.testing.assert_allclose(centres * 224, [[112 + 14, 56 + 28], [112 + 55.3, 56 + 28]])
    np.testing.assert_allclose(kps[0, 0] * 224, [112 + 14, 56 + 28 + 7])
    # a face outside the cell is not a label: the ROI off to the right of both faces
    assert len(rows_in_cell(r, Roi(700, 100, 200, 0.0), (0, 0), 224, 224)[0]) == 0


def test_assign_anchors_follows_the_official_detector():
    s = 224
    anchors = sdk_anchors(s)[:, :2] * s
    strides = anchor_strides(s)
    assert (np.bincount(strides)[[8, 16, 32]] == [1568, 392, 294]).all()
    a = assign_anchors(np.array([[100 / s, 60 / s], [180 / s, 180 / s]]), s)
    for j, c in enumerate([(100, 60), (180, 180)]):
        mine = a == j
        d = np.abs(anchors - c).max(1)
        assert set(strides[mine]) == {8, 16}
        for st in (8, 16):
            assert ((d <= POSITIVE_RADIUS_PX[st]) & (strides == st) == (mine & (strides == st))).all()
        assert (a[d > 2 * POSITIVE_RADIUS_PX[16]] != j).all()
    assert set(a[strides == 32]) <= {BACKGROUND, IGNORED}
    # two people 8 px apart: every positive answers for the nearer one
    a2 = assign_anchors(np.array([[100 / s, 100 / s], [108 / s, 100 / s]]), s)
    d0 = np.abs(anchors - (100, 100)).max(1)
    d1 = np.abs(anchors - (108, 100)).max(1)
    both = (a2 >= 0)
    assert (np.where(d0[both] <= d1[both], 0, 1) == a2[both]).all()
    assert (assign_anchors(np.zeros((0, 2)), s) == BACKGROUND).all()


def test_targets_decode_back_to_the_label():
    s = 224
    centres = np.array([[0.4, 0.3]])
    kps = np.array([[[0.4, 0.6], [0.4, 0.35], [0.4, 0.4], [0.4, 0.2]]])
    t = view_targets(centres, kps, s)
    labels, raw = t["labels"], t["boxes"]
    pos = labels > 0
    assert pos.sum() >= 4 and (labels == -1).any()
    decoded = decode_boxes(raw, sdk_anchors(s), decode_options(s, 12))[pos]
    box = face_boxes(centres, kps)[0]
    np.testing.assert_allclose(decoded[:, :4], np.tile(box, (pos.sum(), 1)), atol=1e-5)
    np.testing.assert_allclose(decoded[:, 4:], np.tile(kps.reshape(-1), (pos.sum(), 1)), atol=1e-5)
    # radius 0.25 of the input: 0.9 x 0.25 = 0.225 > the teacher's 0.199 box, so the teacher's
    assert box[2] - box[0] == pytest.approx(TEACHER_BOX_SIDE)
    small = face_boxes(centres, kps * 0.2 + 0.3)[0]  # a person five times smaller
    assert small[2] - small[0] == pytest.approx(0.9 * 0.05)


def test_body_anchors_lie_on_the_body_and_are_never_positive():
    """A person with hip centre (112, 150) px and body radius 60 px, face box at (112, 100): the
    body anchors are the unmatched anchors within 60 px of the hips, by hand."""
    s = 224
    centres = np.array([[112 / s, 100 / s]])
    kps = np.array([[[112, 150], [112, 90], [112, 120], [112, 60]]], np.float64) / s
    anchors = sdk_anchors(s)[:, :2] * s
    inside = np.hypot(anchors[:, 0] - 112, anchors[:, 1] - 150) <= 60
    np.testing.assert_array_equal(body_anchors(kps, s), inside)
    t = view_targets(centres, kps, s)
    body = t["body"] > 0
    assert body.any() and not (body & (t["labels"] != 0)).any()
    np.testing.assert_array_equal(body, inside & (t["labels"] == 0))
    assert not view_targets(np.zeros((0, 2)), np.zeros((0, 4, 2)), s)["body"].any()


def test_box_on_body_makes_every_body_anchor_regress_that_persons_box():
    """Two people side by side; with box_on_body every anchor in a body circle decodes to the box
    and alignment points of the person it lies deepest in, scores unchanged; without it only the
    positives regress."""
    s = 224
    centres = np.array([[61 / s, 61 / s], [151 / s, 81 / s]])  # off the anchor grid: no anchor on a circle
    kps = np.array([[[61, 111], [61, 53], [61, 81], [61, 41]],
                    [[151, 121], [151, 69], [151, 95], [151, 61]]], np.float64) / s
    plain, on_body = view_targets(centres, kps, s), view_targets(centres, kps, s, box_on_body=True)
    np.testing.assert_array_equal(plain["labels"], on_body["labels"])
    np.testing.assert_array_equal(plain["box_mask"], (plain["labels"] > 0).astype(np.float32))
    owner = body_owner(kps, s)
    anchors = sdk_anchors(s)[:, :2] * s
    depth = np.stack([np.hypot(*(anchors - k[0] * s).T) / (np.hypot(*(k[1] - k[0])) * s) for k in kps])
    np.testing.assert_array_equal(owner, np.where(depth.min(0) <= 1, depth.argmin(0), -1))
    mask = on_body["box_mask"] > 0
    assert mask.sum() > 3 * (plain["box_mask"] > 0).sum()
    np.testing.assert_array_equal(mask, (owner >= 0) | (plain["labels"] > 0))
    decoded = decode_boxes(on_body["boxes"], sdk_anchors(s), decode_options(s, 12))
    boxes = face_boxes(centres, kps)
    who = np.where(plain["labels"] > 0, assign_anchors(centres, s), owner)
    for j in (0, 1):
        rows = mask & (who == j)
        assert rows.sum() > 0
        np.testing.assert_allclose(decoded[rows, :4], np.tile(boxes[j], (rows.sum(), 1)), atol=1e-5)
        np.testing.assert_allclose(decoded[rows, 4:], np.tile(kps[j].reshape(-1), (rows.sum(), 1)), atol=1e-5)


def test_body_box_term_pulls_body_anchors_to_the_label_not_the_teacher():
    rng = np.random.default_rng(2)
    n = 2254
    t_boxes = tf.constant(rng.normal(0, 5, (1, n, 12)).astype(np.float32))
    t_scores = np.full((1, n, 1), -6.0, np.float32)
    t_scores[0, 100:110] = 3.0  # the teacher fires on ten body anchors
    label_boxes = t_boxes.numpy().copy()
    label_boxes[0, 100:110] += 10.0  # where the label's box differs from the teacher's
    box_mask = np.zeros((1, n), np.float32)
    box_mask[0, 100:110] = 1.0
    base = {"labels": tf.zeros((1, n)), "boxes": tf.constant(label_boxes)}
    without = detector_distill_losses(t_boxes, tf.constant(t_scores), t_boxes, tf.constant(t_scores), base, 224)
    with_body = detector_distill_losses(t_boxes, tf.constant(t_scores), t_boxes, tf.constant(t_scores),
                                        {**base, "box_mask": tf.constant(box_mask)}, 224)
    assert float(without["box"]) == pytest.approx(0.0, abs=1e-6)  # the student draws the teacher's box there
    # 12 coordinates 10 px off: Huber of 10 / 224 in units of 0.02, per anchor, averaged over the 10
    err = 10 / 224 / 0.02
    assert float(with_body["box"]) == pytest.approx(12 * (err - 0.5), rel=1e-4)
    at_label = detector_distill_losses(tf.constant(label_boxes), tf.constant(t_scores), t_boxes,
                                       tf.constant(t_scores), {**base, "box_mask": tf.constant(box_mask)}, 224)
    assert float(at_label["box"]) == pytest.approx(0.0, abs=1e-6)


def test_body_term_pushes_scores_on_the_body_down():
    rng = np.random.default_rng(1)
    n = 2254
    t_boxes = tf.constant(rng.normal(0, 5, (1, n, 12)).astype(np.float32))
    t_scores = tf.constant(np.full((1, n, 1), -6.0, np.float32))
    body = np.zeros((1, n), np.float32)
    body[0, 100:110] = 1.0
    targets = {"labels": tf.zeros((1, n)), "boxes": t_boxes, "body": tf.constant(body)}
    firing = t_scores.numpy().copy()
    firing[0, 100:110] = 4.0  # the student fires on the body
    hot = detector_distill_losses(t_boxes, tf.constant(firing), t_boxes, t_scores, targets, 224, body_weight=2.0)
    calm = detector_distill_losses(t_boxes, t_scores, t_boxes, t_scores, targets, 224, body_weight=2.0)
    # BCE towards 0 of logit 4 on 10 anchors, one image
    assert float(hot["body"]) == pytest.approx(10 * np.log1p(np.exp(4.0)), rel=1e-5)
    assert float(hot["total"]) - float(calm["total"]) > 2.0 * (float(hot["body"]) - float(calm["body"])) - 1e-3
    off = detector_distill_losses(t_boxes, tf.constant(firing), t_boxes, t_scores, targets, 224)
    assert float(off["total"]) == pytest.approx(float(hot["total"]) - 2.0 * float(hot["body"]), rel=1e-5)
    # where the teacher itself fires (5 of the 10 anchors), a gate leaves those to the KL term
    t_firing = t_scores.numpy().copy()
    t_firing[0, 100:105] = 3.0
    gated = detector_distill_losses(t_boxes, tf.constant(firing), t_boxes, tf.constant(t_firing), targets, 224,
                                    body_weight=2.0, body_teacher_max=0.5)
    assert float(gated["body"]) == pytest.approx(5 * np.log1p(np.exp(4.0)), rel=1e-5)


def test_compose_view_labels_land_on_the_pasted_people():
    """A white square 'face' on a black frame: wherever a view puts it, its label is on it."""
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[50:60, 70:80] = 255
    rows = [_row((75, 55), (75, 100), (75, 10))[None]]
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(30):
        view, centres, _ = compose_view([frame], rows, rng, ViewOptions(rotation_deg=0.0))
        for c in centres * 224:
            x, y = np.clip(np.round(c).astype(int), 0, 223)
            # pixel value 100 of 255 in the detector's [-1, 1] input
            assert view[y, x].max() > 100 * 2 / 255 - 1, (c, view[max(0, y - 3):y + 4, max(0, x - 3):x + 4, 0])
            seen += 1
    assert seen >= 30


def test_frame_weights_choose_the_frames_a_view_is_made_of():
    """All weight on the second frame: every labelled person in every view is that frame's."""
    frames = [np.zeros((100, 100, 3), np.uint8), np.full((100, 100, 3), 200, np.uint8)]
    rows = [_row((20, 20), (20, 60), (20, 5))[None], _row((70, 30), (70, 70), (70, 10))[None]]
    rng = np.random.default_rng(3)
    for _ in range(10):
        view, centres, _ = compose_view(frames, rows, rng, ViewOptions(rotation_deg=0.0, flip_prob=0.0),
                                        frame_weights=np.array([0.0, 1.0]))
        assert view.max() > 0.5  # the bright frame, never the black one alone
        assert len(centres) >= 1


def test_synthetic_frames_read_the_renders_face_box_and_alignment_points(tmp_path):
    from training.data.sample import Sample, ShardedWriter, encode_jpeg

    rgb = np.full((64, 64, 3), 90, np.uint8)
    align = np.array([[32, 40], [32, 8], [32, 24], [32, 12]], np.float32)
    good = Sample(encode_jpeg(rgb), np.zeros((33, 3), np.float32), np.ones(33, np.float32), np.ones(33, np.float32),
                  np.array([20, 5, 44, 60], np.float32), align, face_box_xyxy_px=np.array([28, 6, 36, 14], np.float32),
                  has_face_box=1.0)
    no_face = Sample(encode_jpeg(rgb), np.zeros((33, 3), np.float32), np.ones(33, np.float32), np.ones(33, np.float32),
                     np.array([20, 5, 44, 60], np.float32), align)
    with ShardedWriter(str(tmp_path / "synth"), 2) as w:
        w.write(good)
        w.write(no_face)
    frames, rows = synthetic_frames(tmp_path)
    assert len(frames) == 1 and frames[0].shape == (64, 64, 3)
    np.testing.assert_allclose(rows[0], [[28, 6, 36, 14, 32, 40, 32, 8, 32, 24, 32, 12]])
    with pytest.raises(FileNotFoundError):
        synthetic_frames(tmp_path / "nothing")


def test_distill_loss_is_zero_where_the_student_agrees():
    rng = np.random.default_rng(0)
    n = 2254
    t_boxes = tf.constant(rng.normal(0, 5, (2, n, 12)).astype(np.float32))
    t_scores = tf.constant(rng.normal(-5, 3, (2, n, 1)).astype(np.float32))
    labels = np.zeros((2, n), np.float32)
    labels[0, :3] = 1.0
    labels[1, 10:12] = -1.0
    targets = {"labels": tf.constant(labels), "boxes": t_boxes}
    out = detector_distill_losses(t_boxes, t_scores, t_boxes, t_scores, targets, 224)
    assert float(out["teacher"]) == pytest.approx(0.0, abs=1e-3)
    assert float(out["box"]) == pytest.approx(0.0, abs=1e-6)
    assert float(out["labelled"]) > 0.0
    # moving the student's score towards 1 on the labelled anchors lowers the labelled term only
    up = t_scores + tf.constant(np.pad(np.full((1, 3, 1), 10.0), ((0, 1), (0, n - 3), (0, 0))), tf.float32)
    out2 = detector_distill_losses(t_boxes, up, t_boxes, t_scores, targets, 224)
    assert float(out2["labelled"]) < float(out["labelled"])
    assert float(out2["teacher"]) == pytest.approx(0.0, abs=1e-3)


def test_synthetic_frames_take_the_teachers_row_for_the_rendered_person(basketball_rgb, tmp_path):
    """basketball1.png as a 'render' whose person is the player the official pipeline tracks: with
    a teacher, the row is the official detector's detection of that player; a 'render' whose
    person is where nobody stands is left out."""
    from blazepose_sdk import PoseTracker, TrackerOptions
    from training.data.sample import Sample, ShardedWriter, alignment_points, encode_jpeg

    with PoseTracker(TrackerOptions(model="blazepose-lite", static_image_mode=True)) as t:
        pose = t.process(basketball_rgb).pose
        dets = t.detector(basketball_rgb)
    align = alignment_points(pose.array_px[:, :2], np.ones(33)).astype(np.float32)
    h, w = basketball_rgb.shape[:2]
    nowhere = (align - align[0]) * 0.05 + np.array([w - 10, h - 10], np.float32)  # a tiny 'person' in a corner

    def sample(a):
        return Sample(encode_jpeg(basketball_rgb), pose.array_px[:, :3].astype(np.float32), np.ones(33, np.float32),
                      np.ones(33, np.float32), np.array([0, 0, w, h], np.float32), a,
                      face_box_xyxy_px=np.array([1, 1, 5, 5], np.float32), has_face_box=1.0)

    with ShardedWriter(str(tmp_path / "synth"), 2) as wr:
        wr.write(sample(align))
        wr.write(sample(nowhere))
    own_frames, own_rows = synthetic_frames(tmp_path)
    assert len(own_frames) == 2 and own_rows[0][0, :4].tolist() == [1, 1, 5, 5]
    frames, rows = synthetic_frames(tmp_path, teacher_model="blazepose-lite")
    assert len(frames) == 1
    # the same detection, up to the JPEG the render is stored as
    assert any(np.abs(rows[0][0] - d.row_px()).max() < 3.0 for d in dets)
    assert not np.allclose(rows[0][0, :4], [1, 1, 5, 5])


def test_labels_command_finds_and_confirms_the_player(shared_data, tmp_path):
    out = tmp_path / "labels.json"
    assert main(["labels", str(shared_data / "basketball1.png"), "--out", str(out),
                 "--confirm-model", "blazepose-lite", "--tiles", "2x2+c"]) == 0
    data = json.loads(out.read_text())
    people = data["frames"][0]["people"]
    assert all(p["presence"] >= 0.9 for p in people)  # every label confirmed
    # the player on the left (face at about x 80, y 140) and the man cut by the right edge
    centres = [((p["row_px"][0] + p["row_px"][2]) / 2, (p["row_px"][1] + p["row_px"][3]) / 2) for p in people]
    assert any(abs(x - 80) < 30 and abs(y - 140) < 30 for x, y in centres)
    assert any(x > 450 for x, _ in centres)
    assert main(["labels", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_train_cli_resumes_and_exports_a_detector_the_sdk_runs(tmp_path):
    from training.finetune_detector import conv_kernels
    from training.models.detector import build_detector
    from training.tflite_graph import load_graph, read_tflite

    keras.utils.set_random_seed(0)
    init = tmp_path / "init.keras"
    model = build_detector()
    pruned = 0
    for layer in conv_kernels(model):  # pruned like the official detector: 3 of 4 weights zero
        w = layer.get_weights()
        if w[0].shape[:2] == (1, 1) and w[0].size >= 256:
            w[0][np.random.default_rng(0).random(w[0].shape) < 0.75] = 0.0
            layer.set_weights(w)
            pruned += int((w[0] == 0).sum())
    assert pruned > 10_000
    model.save(init)
    rng = np.random.default_rng(1)
    frames = []
    for i in range(2):
        img = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
        path = tmp_path / f"f{i}.png"
        cv2.imwrite(str(path), img)
        frames.append({"image": str(path), "width": 128, "height": 96,
                       "people": [{"row_px": _row((60, 30), (62, 80), (62, 10)).tolist(), "score": 0.9,
                                   "presence": 0.95}]})
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"format": "blazepose-detector-labels/1", "frames": frames}))
    run = tmp_path / "run"
    common = ["train", "--init", str(init), "--labels", str(labels), "--run-dir", str(run), "--batch-size", "2",
              "--log-every", "1", "--checkpoint-every", "1", "--strategy", "default", "--warmup", "1", "--hold-zeros"]
    assert main(common + ["--steps", "2"]) == 0
    assert main(common + ["--steps", "3", "--export"]) == 0
    logged = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged] == [1, 2, 3]  # resumed at 2
    assert all(np.isfinite(e["total"]) and e["positives"] > 0 for e in logged)
    out = run / "export" / "pose_detection_small.tflite"
    det_file = model_file_from_path(out)
    assert det_file.sha256 is not None and det_file.value_range == (-1.0, 1.0)
    with TFLiteModel(out, expected_sha256=det_file.sha256) as tfl:
        found = PoseDetector(tfl, min_score=0.0, output_roles=det_file.output_roles)(cv2.imread(frames[0]["image"]))
        assert len(found) >= 1
    # the pruned weights stayed zero through 3 optimizer steps, and the float16 file stores them sparse
    dense = load_graph(run / "export" / "pose_detection_small_float32.tflite")
    zeros = sum(int((dense.tensors[op.inputs[1]].data == 0).sum()) for op in dense.operators if op.op == "CONV_2D")
    assert zeros >= pruned
    assert read_tflite(out).op_counts().get("DENSIFY", 0) > 0


def test_head_layers_are_the_convs_that_feed_the_outputs():
    from training.finetune_detector import head_layers

    x = keras.Input((16, 16, 3))
    trunk = keras.layers.Conv2D(8, 3, padding="same", name="trunk")(x)
    a = keras.layers.Reshape((-1, 12))(keras.layers.Conv2D(24, 1, name="box_a")(trunk))
    b = keras.layers.Reshape((-1, 12))(keras.layers.Conv2D(24, 1, name="box_b")(keras.layers.MaxPooling2D()(trunk)))
    s = keras.layers.Reshape((-1, 1))(keras.layers.Conv2D(2, 1, name="score")(trunk))
    model = keras.Model(x, [keras.layers.Concatenate(axis=1)([a, b]), s])
    assert sorted(layer.name for layer in head_layers(model)) == ["box_a", "box_b", "score"]


def test_hold_zeros_keeps_pruned_weights_through_optimizer_steps():
    from training.finetune_detector import hold_zeros

    def step_zeros(hold: bool) -> int:
        x = keras.Input((8, 8, 16))
        model = keras.Model(x, keras.layers.Conv2D(32, 1, name="pruned")(keras.layers.Conv2D(16, 3, name="dense")(x)))
        w = model.get_layer("pruned").get_weights()
        w[0][np.random.default_rng(0).random(w[0].shape) < 0.75] = 0.0
        model.get_layer("pruned").set_weights(w)
        assert (hold_zeros(model) if hold else 0) == (1 if hold else 0)  # the dense 3x3 kernel has no zeros
        opt = keras.optimizers.Adam(1e-2)
        data = np.random.default_rng(1).standard_normal((4, 8, 8, 16)).astype(np.float32)
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(data) - 1.0))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return int((model.get_layer("pruned").get_weights()[0] == 0).sum())

    pruned = int((np.random.default_rng(0).random((1, 1, 16, 32)) < 0.75).sum())
    assert step_zeros(hold=True) == pruned
    assert step_zeros(hold=False) < pruned // 10  # without it Adam moves them all


def test_remask_puts_the_pattern_back_only_where_the_fine_tune_barely_moved_it():
    from training.finetune_detector import masked_share, pair_kernels, remask_kernels

    rng = np.random.default_rng(0)
    a0 = rng.normal(size=(4, 1, 1, 8)).astype(np.float32)
    a0[:, :, :, :6] = 0  # pruned: 3/4 zeros
    b0 = rng.normal(size=(4, 1, 1, 8)).astype(np.float32)
    b0[:, :, :, 2:] = 0
    c0 = rng.normal(size=(3, 3, 1, 2)).astype(np.float32)  # not pruned
    a, b, c = a0.copy(), b0.copy(), c0 + 0.01
    a[:, :, :, :6] = 0.001  # barely moved off the pattern
    b[:, :, :, 2:] = 1.0  # moved far off it
    assert masked_share(a, a0 == 0) < 0.02 < masked_share(b, b0 == 0)
    # the tuned export lists its kernels in another order
    assert pair_kernels([c, b, a], [a0, b0, c0]) == [2, 1, 0]
    kernels, masked = remask_kernels([c, b, a], [a0, b0, c0], 0.02)
    assert masked == [2]
    assert np.all(kernels[2][a0 == 0] == 0) and np.array_equal(kernels[2][a0 != 0], a[a0 != 0])
    assert kernels[1] is b and kernels[0] is c
    kernels, masked = remask_kernels([c, b, a], [a0, b0, c0], 1.0)
    assert masked == [1, 2]
    with pytest.raises(ValueError, match="no counterpart"):
        pair_kernels([np.zeros((5, 5))], [a0])
