package dev.blazepose.core;

/**
 * Smooths one tracked pose across frames; port of {@code blazepose_sdk.geometry.smoothing.PoseSmoother}.
 *
 * <p>Landmark positions (x_px, y_px, z_px) go through a One-Euro filter whose speed is normalised
 * by the person's size, world landmarks through an unscaled One-Euro filter, visibility through a
 * low-pass filter (presence is left raw).
 */
public final class PoseSmoother {
    /** Below this object scale (pixels) positions are not filtered (MediaPipe's min_allowed_object_scale). */
    public static final double MIN_OBJECT_SCALE_PX = 1e-6;

    private final OneEuroFilter xyz;
    private final OneEuroFilter world;
    private final LowPassFilter visibility;

    public PoseSmoother(SmoothingOptions options) {
        xyz = new OneEuroFilter(options.minCutoff, options.beta, options.derivateCutoff);
        world = new OneEuroFilter(options.worldMinCutoff, options.worldBeta, options.derivateCutoff);
        visibility = new LowPassFilter(options.visibilityAlpha);
    }

    public void reset() {
        xyz.reset();
        world.reset();
        visibility.reset();
    }

    /** Smoothed landmarks and world landmarks. */
    public static final class Output {
        /** (N, 5): x_px, y_px, z_px, visibility, presence. */
        public final double[][] landmarksPx;
        /** (N, 3) metres. */
        public final double[][] worldM;

        Output(double[][] landmarksPx, double[][] worldM) {
            this.landmarksPx = landmarksPx;
            this.worldM = worldM;
        }
    }

    /**
     * Return smoothed copies of (N, 5) landmarks and (N, 3) world landmarks.
     *
     * @param objectScalePx the person's size in pixels (see {@link PoseTracker#objectScalePx})
     */
    public Output apply(double[][] landmarksPx, double[][] worldM, double timestampS, double objectScalePx) {
        int n = landmarksPx.length;
        double[][] out = Arrays2.copy(landmarksPx);
        // visibility only, as MediaPipe's VisibilitySmoothingCalculator; presence stays raw
        double[] vis = new double[n];
        for (int i = 0; i < n; i++) {
            vis[i] = out[i][3];
        }
        vis = visibility.apply(vis);
        for (int i = 0; i < n; i++) {
            out[i][3] = vis[i];
        }
        if (objectScalePx > MIN_OBJECT_SCALE_PX) {
            double[] pos = new double[n * 3];
            for (int i = 0; i < n; i++) {
                System.arraycopy(out[i], 0, pos, 3 * i, 3);
            }
            pos = xyz.apply(pos, timestampS, 1.0 / objectScalePx);
            for (int i = 0; i < n; i++) {
                System.arraycopy(pos, 3 * i, out[i], 0, 3);
            }
        }
        double[] w = world.apply(Arrays2.flatten(worldM), timestampS, 1.0);
        return new Output(out, Arrays2.reshape(w, worldM.length, 3));
    }
}
