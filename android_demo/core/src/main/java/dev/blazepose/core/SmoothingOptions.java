package dev.blazepose.core;

/**
 * Filter settings; port of {@code blazepose_sdk.geometry.smoothing.SmoothingOptions}. {@link #DEFAULTS} holds
 * MediaPipe's mediapipe/modules/pose_landmark/pose_landmark_filtering.pbtxt values.
 */
public final class SmoothingOptions {
    /** pose_landmark_filtering.pbtxt, LandmarksSmoothingCalculator one_euro_filter for the 33 landmarks. */
    public static final double LANDMARK_MIN_CUTOFF = 0.05;
    public static final double LANDMARK_BETA = 80.0;
    public static final double LANDMARK_DERIVATE_CUTOFF = 1.0;
    /** Same graph, world landmarks (metres; disable_value_scaling: true). */
    public static final double WORLD_MIN_CUTOFF = 0.1;
    public static final double WORLD_BETA = 40.0;
    /** Same graph, auxiliary (ROI) landmarks: smoothed harder so the crop stays steady. */
    public static final double AUX_MIN_CUTOFF = 0.01;
    public static final double AUX_BETA = 10.0;
    /** VisibilitySmoothingCalculator low_pass_filter alpha in the same graph. */
    public static final double VISIBILITY_ALPHA = 0.1;

    public static final SmoothingOptions DEFAULTS = new SmoothingOptions(LANDMARK_MIN_CUTOFF, LANDMARK_BETA,
            LANDMARK_DERIVATE_CUTOFF, WORLD_MIN_CUTOFF, WORLD_BETA, VISIBILITY_ALPHA);

    public final double minCutoff;
    public final double beta;
    public final double derivateCutoff;
    public final double worldMinCutoff;
    public final double worldBeta;
    public final double visibilityAlpha;

    public SmoothingOptions(double minCutoff, double beta, double derivateCutoff, double worldMinCutoff,
                            double worldBeta, double visibilityAlpha) {
        this.minCutoff = minCutoff;
        this.beta = beta;
        this.derivateCutoff = derivateCutoff;
        this.worldMinCutoff = worldMinCutoff;
        this.worldBeta = worldBeta;
        this.visibilityAlpha = visibilityAlpha;
    }
}
