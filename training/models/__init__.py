"""Keras functional builders of the two BlazePose stages (training side, not installed):

- ``detector.build_detector``: the face-proxy person detector (raw boxes + score logits per
  SDK anchor), with ``detector.encode_targets`` the exact inverse of the SDK's decoder;
- ``landmark.build_landmark_model``: the heatmap/offset + regression landmark network, and
  ``landmark.inference_model`` which drops the heatmap heads for export;
- ``export``: TFLite conversion (float or full-integer INT8) and the model manifest.
"""
