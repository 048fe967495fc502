package dev.blazepose.core;

/**
 * Everything the landmark model needs around its interpreter call; port of
 * {@code blazepose_sdk.stages.landmarker.PoseLandmarker} minus the interpreter.
 *
 * <p>Before the call, crop the ROI with {@link ImageCrop} (value range
 * {@link #VALUE_MIN}..{@link #VALUE_MAX}, replicated border); after it, {@link #decode} the outputs.
 */
public final class LandmarkPostprocessor {
    /** ImageToTensorCalculator output_tensor_float_range in pose_landmark_by_roi_cpu.pbtxt. */
    public static final float VALUE_MIN = 0.0f;
    public static final float VALUE_MAX = 1.0f;

    public final int inputSize;
    public final int numRows;
    public final boolean refine;

    /**
     * @param inputSize side of the model's square input (256)
     * @param numRows landmark rows in the model's output (39)
     * @param refine apply heatmap refinement when a heatmap is passed to {@link #decode}
     */
    public LandmarkPostprocessor(int inputSize, int numRows, boolean refine) {
        if (numRows < Topology.NUM_LANDMARKS + 2) {
            throw new IllegalArgumentException("need at least " + (Topology.NUM_LANDMARKS + 2) + " rows, got " + numRows);
        }
        this.inputSize = inputSize;
        this.numRows = numRows;
        this.refine = refine;
    }

    /**
     * Decode, refine, and project the landmark model's outputs for {@code roi} back to the image.
     *
     * @param rawLandmarks flat (numRows * 5) landmark tensor
     * @param presence the (1, 1) pose-presence output (already a probability)
     * @param heatmap flat (H, W, numRows) heatmap logits, or null
     * @param rawWorld flat (numRows * 3) world landmarks in metres, or null
     */
    public LandmarkerOutput decode(float[] rawLandmarks, float presence, float[] heatmap, int heatmapHeight,
                                   int heatmapWidth, float[] rawWorld, Roi roi) {
        double[][] rows = LandmarkDecoding.decodeLandmarkTensor(rawLandmarks, inputSize, numRows);
        if (refine && heatmap != null) {
            rows = LandmarkDecoding.refineWithHeatmap(rows, heatmap, heatmapHeight, heatmapWidth, numRows);
        }
        double[][] projected = RoiMath.projectLandmarks(rows, roi);
        int n = Topology.NUM_LANDMARKS;
        double[][] landmarks = new double[n][];
        System.arraycopy(projected, 0, landmarks, 0, n);
        double[][] aux = {
            {projected[Topology.AUX_HIP_CENTER][0], projected[Topology.AUX_HIP_CENTER][1]},
            {projected[Topology.AUX_BODY_CIRCLE][0], projected[Topology.AUX_BODY_CIRCLE][1]},
        };
        double[][] world = new double[n][3];
        if (rawWorld != null) {
            if (rawWorld.length != numRows * 3) {
                throw new IllegalArgumentException("world tensor holds " + rawWorld.length + " values, expected "
                        + numRows + " x 3");
            }
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 3; k++) {
                    world[i][k] = rawWorld[3 * i + k];
                }
            }
            world = RoiMath.rotateWorldLandmarks(world, roi.rotationRad);
        } else {
            for (double[] row : world) {
                java.util.Arrays.fill(row, Double.NaN);
            }
        }
        return new LandmarkerOutput(roi, presence, landmarks, aux, world);
    }
}
