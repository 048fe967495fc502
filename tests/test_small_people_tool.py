"""tools/small_people.py: the pure matching behind its doubles count."""

from __future__ import annotations

import numpy as np

from blazepose_sdk.geometry.roi import Roi
from tools.small_people import count_doubles, inside_roi


def test_inside_roi_follows_the_rotation():
    roi = Roi(100.0, 100.0, 40.0, np.pi / 4)  # a diamond reaching ~28 px along the axes
    assert inside_roi(np.array([100.0, 100.0]), roi)
    assert inside_roi(np.array([125.0, 100.0]), roi)
    assert not inside_roi(np.array([119.0, 119.0]), roi)  # a corner of the upright square, outside
    assert not inside_roi(np.array([100.0, 131.0]), roi)


def test_count_doubles_splits_unmatched_detections():
    people = [Roi(100.0, 100.0, 80.0, 0.0), Roi(300.0, 100.0, 80.0, 0.0)]
    dets = [Roi(102.0, 98.0, 78.0, 0.0),   # the first person
            Roi(100.0, 90.0, 30.0, 0.0),   # a small box on the same person: a double
            Roi(500.0, 300.0, 40.0, 0.0)]  # nobody there
    centres = np.array([[102.0, 80.0], [100.0, 85.0], [500.0, 290.0]])
    assert count_doubles(dets, centres, people) == (1, 1, 1)
    # one detection matches one person only: a second big box on the first person is a double
    twice = [dets[0], Roi(98.0, 101.0, 82.0, 0.0)]
    assert count_doubles(twice, centres[:2], people) == (1, 1, 0)
    assert count_doubles([], np.zeros((0, 2)), people) == (0, 0, 0)
