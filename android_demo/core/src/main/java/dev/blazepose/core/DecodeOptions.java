package dev.blazepose.core;

/**
 * Options of MediaPipe's TensorsToDetectionsCalculator for the pose detector; port of
 * {@code blazepose_sdk.geometry.anchors.DecodeOptions}. Values from
 * mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt. The score threshold is not here:
 * it is the tracker's {@code minDetectionConfidence}.
 */
public final class DecodeOptions {
    public final int numKeypoints;
    public final int boxCoordOffset;
    public final int keypointCoordOffset;
    public final int numValuesPerKeypoint;
    public final float xScale;
    public final float yScale;
    public final float wScale;
    public final float hScale;
    public final float scoreClippingThresh;
    /** True when raw boxes are (x, y, w, h) rather than (y, x, h, w). */
    public final boolean reverseOutputOrder;

    public DecodeOptions(int numKeypoints, int boxCoordOffset, int keypointCoordOffset, int numValuesPerKeypoint,
                         float xScale, float yScale, float wScale, float hScale, float scoreClippingThresh,
                         boolean reverseOutputOrder) {
        this.numKeypoints = numKeypoints;
        this.boxCoordOffset = boxCoordOffset;
        this.keypointCoordOffset = keypointCoordOffset;
        this.numValuesPerKeypoint = numValuesPerKeypoint;
        this.xScale = xScale;
        this.yScale = yScale;
        this.wScale = wScale;
        this.hScale = hScale;
        this.scoreClippingThresh = scoreClippingThresh;
        this.reverseOutputOrder = reverseOutputOrder;
    }

    /**
     * The pose detector's options for a square input of {@code inputSize} pixels and
     * {@code numKeypoints} alignment points (4 for BlazePose; scales equal the input size).
     */
    public static DecodeOptions poseDetector(int inputSize, int numKeypoints) {
        float s = inputSize;
        // pose_detection_cpu.pbtxt: box_coord_offset 0, keypoint_coord_offset 4,
        // num_values_per_keypoint 2, score_clipping_thresh 100, reverse_output_order true.
        return new DecodeOptions(numKeypoints, 0, 4, 2, s, s, s, s, 100.0f, true);
    }
}
