package dev.blazepose.core;

/** One person's pose in one frame; port of {@code blazepose_sdk.results.Pose}. */
public final class Pose {
    /** The landmark model's pose-presence probability for the ROI. */
    public final double presence;
    /** The ROI the landmarks were computed in (image pixels). */
    public final Roi roi;
    /** (33, 5): x_px, y_px, z_px, visibility, presence, indexed as {@link Topology#LANDMARK_NAMES}. */
    public final double[][] landmarksPx;
    /** (33, 3) world landmarks in metres, hip-centred. */
    public final double[][] worldM;

    public Pose(double presence, Roi roi, double[][] landmarksPx, double[][] worldM) {
        this.presence = presence;
        this.roi = roi;
        this.landmarksPx = landmarksPx;
        this.worldM = worldM;
    }
}
