import numpy as np
import pytest

from blazepose_sdk.geometry.anchors import AnchorOptions, DecodeOptions, decode_boxes, decode_scores, generate_anchors, sigmoid
from blazepose_sdk.geometry.nms import iou, weighted_nms


def test_blazepose_anchor_layout():
    a = generate_anchors()
    assert a.shape == (2254, 4)  # 28*28*2 + 14*14*2 + 7*7*6
    # stride 8: 28x28 grid, 2 anchors per cell, first cell centre at 0.5/28
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28, 1, 1])
    np.testing.assert_allclose(a[1], a[0])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28, 1, 1])
    # stride 16 starts after 1568 anchors
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14, 1, 1])
    # the three stride-32 layers share a 7x7 map with 6 anchors per cell
    np.testing.assert_allclose(a[1960:1966, :2], np.full((6, 2), 0.5 / 7))
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7, 1, 1])


def test_anchor_sizes_when_not_fixed():
    a = generate_anchors(AnchorOptions(input_size_width=64, input_size_height=64, num_layers=1, strides=(32,),
                                       fixed_anchor_size=False, min_scale=0.5, max_scale=0.5))
    assert a.shape == (2 * 2 * 2, 4)
    np.testing.assert_allclose(a[0, 2:], [0.5, 0.5])  # one layer: scale = (min + max) / 2
    # the interpolated anchor of the last layer uses sqrt(scale * 1.0)
    np.testing.assert_allclose(a[1, 2:], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)


def test_decode_boxes_hand_computed():
    anchors = np.array([[0.5, 0.25, 1, 1]], np.float32)
    raw = np.zeros((1, 12), np.float32)
    raw[0, :4] = [22.4, -22.4, 44.8, 112.0]  # dx=+0.1, dy=-0.1, w=0.2, h=0.5 of the 224 input
    raw[0, 4:6] = [0.0, 224.0]  # keypoint 0 at anchor + (0, 1)
    out = decode_boxes(raw, anchors, DecodeOptions())
    np.testing.assert_allclose(out[0, :4], [0.5, -0.1, 0.7, 0.4], atol=1e-6)
    np.testing.assert_allclose(out[0, 4:6], [0.5, 1.25], atol=1e-6)


def test_decode_rejects_wrong_anchor_count():
    with pytest.raises(ValueError):
        decode_boxes(np.zeros((3, 12)), generate_anchors())


def test_scores_clip_and_sigmoid():
    s = decode_scores(np.array([0.0, 1e6, -1e6, np.log(3.0)]))
    np.testing.assert_allclose(s, [0.5, 1.0, 0.0, 0.75], atol=1e-6)
    assert sigmoid(np.array([-200.0]))[0] >= 0.0


def test_iou_known_values():
    box = np.array([0, 0, 2, 2], np.float32)
    others = np.array([[1, 0, 3, 2], [0, 0, 2, 2], [5, 5, 6, 6]], np.float32)
    np.testing.assert_allclose(iou(box, others), [2 / 6, 1.0, 0.0], atol=1e-6)


def test_weighted_nms_averages_cluster_with_scores():
    boxes = np.array([
        [0, 0, 10, 10, 1, 1],
        [1, 0, 11, 10, 3, 1],  # IoU with the first = 90/110 > 0.3
        [50, 50, 60, 60, 7, 7],  # separate
    ], np.float32)
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    kept, kept_scores = weighted_nms(boxes, scores, 0.3)
    assert kept.shape == (2, 6)
    np.testing.assert_allclose(kept_scores, [0.9, 0.8])
    # (0.9 * row0 + 0.3 * row1) / 1.2
    np.testing.assert_allclose(kept[0], [0.25, 0, 10.25, 10, 1.5, 1], atol=1e-5)
    np.testing.assert_allclose(kept[1], boxes[2])


def test_weighted_nms_empty():
    kept, scores = weighted_nms(np.zeros((0, 12)), np.zeros((0,)))
    assert kept.shape == (0, 12) and scores.shape == (0,)


def test_weighted_nms_terminates_with_threshold_one_and_degenerate_boxes():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [3, 3, 2, 2]], np.float32)  # last: negative sides
    kept, scores = weighted_nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), iou_threshold=1.0)
    assert len(kept) == 3  # nothing merges at threshold 1, and every box still leaves the queue


def test_iou_of_inverted_box_is_zero_both_ways():
    inverted = np.array([3, 3, 2, 2], np.float32)
    normal = np.array([[0, 0, 4, 4]], np.float32)
    assert iou(inverted, normal)[0] == 0.0
    assert iou(normal[0], inverted[None])[0] == 0.0


def test_sigmoid_keeps_relative_precision_for_small_probabilities():
    p = sigmoid(np.array([-20.0, -80.0]))
    np.testing.assert_allclose(p, [np.exp(-20.0) / (1 + np.exp(-20.0)), np.exp(-80.0)], rtol=1e-6)
    assert p[1] > 0.0
