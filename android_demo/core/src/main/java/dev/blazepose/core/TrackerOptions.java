package dev.blazepose.core;

/**
 * Options of {@link PoseTracker}; port of the decision-making fields of
 * {@code blazepose_sdk.tracker.TrackerOptions}. Build with {@link #builder()}.
 */
public final class TrackerOptions {
    /**
     * ThresholdingCalculator threshold in tensors_to_pose_landmarks_and_segmentation.pbtxt, which the
     * legacy solution overrides with min_tracking_confidence (default 0.5).
     */
    public static final double DEFAULT_MIN_TRACKING_CONFIDENCE = 0.5;

    /** Treat every frame as unrelated: detect on each, no smoothing. */
    public final boolean staticImageMode;
    /** Detector score threshold (the detector stage applies it; kept here for the app's settings). */
    public final double minDetectionConfidence;
    /** Pose-presence threshold below which tracking is lost. */
    public final double minTrackingConfidence;
    /** One-Euro smoothing of landmarks on video. */
    public final boolean smoothLandmarks;
    public final SmoothingOptions smoothing;
    /**
     * When the tracked ROI loses the person, run the detector on the same frame instead of waiting
     * for the next one (MediaPipe waits).
     */
    public final boolean redetectOnLoss;

    private TrackerOptions(Builder b) {
        staticImageMode = b.staticImageMode;
        minDetectionConfidence = b.minDetectionConfidence;
        minTrackingConfidence = b.minTrackingConfidence;
        smoothLandmarks = b.smoothLandmarks;
        smoothing = b.smoothing;
        redetectOnLoss = b.redetectOnLoss;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder with the SDK's defaults. */
    public static final class Builder {
        private boolean staticImageMode = false;
        private double minDetectionConfidence = DetectorPostprocessor.DEFAULT_MIN_SCORE;
        private double minTrackingConfidence = DEFAULT_MIN_TRACKING_CONFIDENCE;
        private boolean smoothLandmarks = true;
        private SmoothingOptions smoothing = SmoothingOptions.DEFAULTS;
        private boolean redetectOnLoss = true;

        public Builder staticImageMode(boolean v) {
            staticImageMode = v;
            return this;
        }

        public Builder minDetectionConfidence(double v) {
            minDetectionConfidence = v;
            return this;
        }

        public Builder minTrackingConfidence(double v) {
            minTrackingConfidence = v;
            return this;
        }

        public Builder smoothLandmarks(boolean v) {
            smoothLandmarks = v;
            return this;
        }

        public Builder smoothing(SmoothingOptions v) {
            smoothing = v;
            return this;
        }

        public Builder redetectOnLoss(boolean v) {
            redetectOnLoss = v;
            return this;
        }

        /** @throws IllegalArgumentException when a confidence lies outside [0, 1] */
        public TrackerOptions build() {
            if (!(minDetectionConfidence >= 0.0 && minDetectionConfidence <= 1.0)) {
                throw new IllegalArgumentException("minDetectionConfidence must be in [0, 1], got " + minDetectionConfidence);
            }
            if (!(minTrackingConfidence >= 0.0 && minTrackingConfidence <= 1.0)) {
                throw new IllegalArgumentException("minTrackingConfidence must be in [0, 1], got " + minTrackingConfidence);
            }
            return new TrackerOptions(this);
        }
    }
}
