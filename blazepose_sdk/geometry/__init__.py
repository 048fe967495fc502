"""Pure math of the pipeline, numpy in and numpy out (no interpreters, files or cameras):
SSD anchors and box decoding, weighted NMS, the rotated ROI and its affine maps, detector tiles,
pose matching, One-Euro filters, mask warps and the 33-landmark topology."""
