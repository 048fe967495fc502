"""Pure geometry of multi-person tracking and detector tiles, with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blazepose_sdk.errors import OptionError
from blazepose_sdk.geometry.matching import (convex_intersection, duplicates_to_drop, keypoint_similarity, polygon_area,
                                    polygon_iou)
from blazepose_sdk.geometry.roi import Roi, roi_to_image
from blazepose_sdk.geometry.tiles import merge_tile_detections, parse_tile_layout, tile_rois


def square(cx, cy, side, angle=0.0):
    return Roi(cx, cy, side, angle).corners_px()


def test_polygon_area_and_iou_of_shifted_squares():
    assert polygon_area(square(0, 0, 2)) == pytest.approx(4.0)
    assert polygon_area(square(0, 0, 2)[::-1]) == pytest.approx(4.0)  # either winding
    # unit squares shifted by half a side: intersection 0.5, union 1.5
    assert polygon_iou(square(0.5, 0.5, 1), square(1.0, 0.5, 1)) == pytest.approx(1 / 3)
    # shifted diagonally by half a side: 0.25 / 1.75
    assert polygon_iou(square(0.5, 0.5, 1), square(1.0, 1.0, 1)) == pytest.approx(1 / 7)
    assert polygon_iou(square(0, 0, 1), square(5, 0, 1)) == 0.0
    assert polygon_iou(square(3, 4, 10), square(3, 4, 10)) == pytest.approx(1.0)
    # a square inside one twice its side: 1 / 4
    assert polygon_iou(square(0, 0, 1), square(0, 0, 2)) == pytest.approx(0.25)


def test_iou_of_a_square_and_itself_turned_45_degrees():
    # the intersection is a regular octagon: 1 - 4 corner triangles of legs (sqrt2 - 1) / sqrt2 ...
    # = 2 sqrt2 - 2 for a unit square, so IoU = (2 sqrt2 - 2) / (2 - (2 sqrt2 - 2)) = sqrt2 / 2
    inter = convex_intersection(square(0, 0, 1), square(0, 0, 1, math.pi / 4))
    assert len(inter) == 8
    assert polygon_area(inter) == pytest.approx(2 * math.sqrt(2) - 2)
    assert polygon_iou(square(0, 0, 1), square(0, 0, 1, math.pi / 4)) == pytest.approx(math.sqrt(2) / 2)
    # a rotation by 90 degrees leaves a square the same square
    assert polygon_iou(square(7, 3, 4), square(7, 3, 4, math.pi / 2)) == pytest.approx(1.0)


def test_keypoint_similarity():
    a = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert keypoint_similarity(a, a, 100.0) == pytest.approx(1.0)
    # every keypoint kappa * scale = 10 px away: exp(-1/2)
    assert keypoint_similarity(a, a + [10.0, 0.0], 100.0) == pytest.approx(math.exp(-0.5))
    # weights: only the first keypoint counts, and it is 20 px away: exp(-2)
    b = a.copy()
    b[0] += [0.0, 20.0]
    assert keypoint_similarity(a, b, 100.0, weights=np.array([1.0, 0.0, 0.0])) == pytest.approx(math.exp(-2.0))
    with pytest.raises(ValueError):
        keypoint_similarity(a, a[:2], 100.0)


def test_duplicates_keep_the_first_in_order():
    similar = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
    # order 0, 1, 2: 1 is like 0 (dropped); 2 is like 1 only, which was dropped: kept
    assert duplicates_to_drop(np.array([0, 1, 2]), similar) == [1]
    # preference reversed (2 first): 1 is like 2 -> dropped; 0 is like 1 only -> kept
    assert duplicates_to_drop(np.array([9, 5, 1]), similar) == [1]
    # 1 first: both others are like it
    assert duplicates_to_drop(np.array([5, 1, 9]), similar) == [0, 2]


def test_tile_layout_on_a_768x576_frame():
    assert parse_tile_layout("2x2+c") == (2, 2, True)
    assert parse_tile_layout(" 3X3 ") == (3, 3, False)
    for bad in ("2x", "1x1", "5x5", "2x2+d", "", "axb"):
        with pytest.raises(OptionError, match="detector_tiles"):
            parse_tile_layout(bad)
    tiles = tile_rois(768, 576, 2, 2, centre=True)
    # side: max(768 / 1.75, 576 / 1.75) = 438.857...; centres from side/2 to extent - side/2
    side = 768 / 1.75
    assert len(tiles) == 5
    assert all(t.size_px == pytest.approx(side) and t.rotation_rad == 0.0 for t in tiles)
    xs = [side / 2, 768 - side / 2]
    ys = [side / 2, 576 - side / 2]
    expected = [(xs[0], ys[0]), (xs[1], ys[0]), (xs[0], ys[1]), (xs[1], ys[1]), (384.0, 288.0)]
    # arrays, not nested lists: newer pytest's approx refuses nested sequences
    assert np.array([(t.center_x_px, t.center_y_px) for t in tiles]) == pytest.approx(np.array(expected))
    # neighbours share a quarter of a tile across: 2 side - 768 = 0.25 side
    assert 2 * side - 768 == pytest.approx(0.25 * side)
    # a tile's normalised corners map to image pixels: tile 1 spans x 329.1..768, y 0..438.9
    corners = roi_to_image(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]]), tiles[1])
    assert corners == pytest.approx(np.array([[768 - side, 0.0], [768.0, side], [768 - side / 2, side / 2]]))


def test_tile_layout_on_a_tall_frame_and_a_single_row():
    tiles = tile_rois(300, 600, 1, 2)
    # side max(300 / 1, 600 / 1.75) = 342.857 covers the width: one column at x = 150
    side = 600 / 1.75
    assert np.array([(t.center_x_px, t.center_y_px, t.size_px) for t in tiles]) == pytest.approx(
        np.array([(150.0, side / 2, side), (150.0, 600 - side / 2, side)]))
    tiles = tile_rois(1000, 200, 3, 1)
    side = 1000 / 2.5  # 400 > 200: one row at y = 100
    assert [t.center_x_px for t in tiles] == pytest.approx([200.0, 500.0, 800.0])
    assert all(t.center_y_px == 100.0 and t.size_px == pytest.approx(side) for t in tiles)


def test_merging_tiles_averages_one_person_seen_twice_and_keeps_two():
    # one person seen by two tiles (box + 1 keypoint), scores 0.9 and 0.6: weighted mean
    a = np.array([[100.0, 100.0, 120.0, 120.0, 110.0, 200.0]])
    b = np.array([[102.0, 101.0, 122.0, 121.0, 113.0, 205.0]])
    other = np.array([[400.0, 100.0, 420.0, 120.0, 410.0, 200.0]])
    rows, scores = merge_tile_detections([a, np.concatenate([b, other])], [np.array([0.9]), np.array([0.6, 0.7])])
    assert scores.tolist() == pytest.approx([0.9, 0.7])
    expected = (0.9 * a[0] + 0.6 * b[0]) / 1.5
    assert rows[0] == pytest.approx(expected)
    assert rows[1] == pytest.approx(other[0])
    empty_rows, empty_scores = merge_tile_detections([np.zeros((0, 6))], [np.zeros(0)])
    assert empty_rows.shape == (0, 6) and empty_scores.shape == (0,)
