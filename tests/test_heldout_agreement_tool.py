"""tools/heldout_agreement.py: the pure crop geometry behind its per-person MoveNet runs."""

from __future__ import annotations

import numpy as np
import pytest

from tools.heldout_agreement import MIN_CROP_PX, build, person_crop_box


def test_the_crop_is_a_square_1_5_times_the_confident_extent_around_its_centre():
    xy = np.array([[100.0, 50.0], [140.0, 150.0], [0.0, 0.0]])
    ok = np.array([True, True, False])  # the far point is not confident and is left out
    assert person_crop_box(xy, ok) == (45, 25, 150)
    assert person_crop_box(xy[:1], ok[:1]) is None
    x0, y0, side = person_crop_box(np.array([[10.0, 10.0], [12.0, 11.0]]), np.array([True, True]))
    assert side == MIN_CROP_PX and (x0, y0) == (-5, -6)


def test_the_crop_at_1_to_1_pads_black_where_it_leaves_the_frame():
    """The tool cuts each person with MoveNet's crop_image at its own size: a plain shift."""
    from blazepose_sdk.bench.peers.movenet import CropRegion, crop_image

    frame = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3) + 1
    out = crop_image(frame, CropRegion(-2, 3, 4), 4)
    assert out.shape == (4, 4, 3)
    assert (out[:, :2] == 0).all() and (out[2:] == 0).all()
    np.testing.assert_array_equal(out[:2, 2:], frame[3:5, 0:2])


def test_the_reserved_test_media_are_refused(tmp_path):
    (tmp_path / "pose2sim-demo").mkdir()
    (tmp_path / "pose2sim-demo" / "00000.png").write_bytes(b"")
    with pytest.raises(SystemExit, match="reserved test set"):
        build(tmp_path, tmp_path / "out")
