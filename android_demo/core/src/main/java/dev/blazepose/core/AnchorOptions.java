package dev.blazepose.core;

/**
 * Options of MediaPipe's SsdAnchorsCalculator that matter for BlazePose; port of
 * {@code blazepose_sdk.geometry.anchors.AnchorOptions}.
 *
 * <p>{@link #poseDetector(int)} gives the values of
 * mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt (SsdAnchorsCalculatorOptions node).
 */
public final class AnchorOptions {
    public final int inputSizeWidth;
    public final int inputSizeHeight;
    public final int numLayers;
    public final int[] strides;
    public final double anchorOffsetX;
    public final double anchorOffsetY;
    public final double[] aspectRatios;
    /** SsdAnchorsCalculatorOptions default: one extra anchor per layer at the interpolated scale. */
    public final double interpolatedScaleAspectRatio;
    public final boolean fixedAnchorSize;
    public final double minScale;
    public final double maxScale;

    public AnchorOptions(int inputSizeWidth, int inputSizeHeight, int numLayers, int[] strides,
                         double anchorOffsetX, double anchorOffsetY, double[] aspectRatios,
                         double interpolatedScaleAspectRatio, boolean fixedAnchorSize,
                         double minScale, double maxScale) {
        this.inputSizeWidth = inputSizeWidth;
        this.inputSizeHeight = inputSizeHeight;
        this.numLayers = numLayers;
        this.strides = strides.clone();
        this.anchorOffsetX = anchorOffsetX;
        this.anchorOffsetY = anchorOffsetY;
        this.aspectRatios = aspectRatios.clone();
        this.interpolatedScaleAspectRatio = interpolatedScaleAspectRatio;
        this.fixedAnchorSize = fixedAnchorSize;
        this.minScale = minScale;
        this.maxScale = maxScale;
    }

    /** The pose detector's anchor options for a square input of {@code inputSize} pixels (224 for BlazePose). */
    public static AnchorOptions poseDetector(int inputSize) {
        // pose_detection_cpu.pbtxt: num_layers 5, strides 8 16 32 32 32, offsets 0.5,
        // aspect_ratios 1.0, fixed_anchor_size true, min_scale 0.1484375, max_scale 0.75.
        return new AnchorOptions(inputSize, inputSize, 5, new int[] {8, 16, 32, 32, 32}, 0.5, 0.5,
                new double[] {1.0}, 1.0, true, 0.1484375, 0.75);
    }
}
