package dev.blazepose.core;

/**
 * What the landmark stage found in one ROI; port of {@code blazepose_sdk.stages.landmarker.LandmarkerOutput}.
 */
public final class LandmarkerOutput {
    /** The ROI the model looked at (image pixels). */
    public final Roi roi;
    /** Pose-presence probability for the ROI. */
    public final double presence;
    /** (33, 5): x_px, y_px, z_px (hip-relative depth, x's pixel units), visibility, presence. */
    public final double[][] landmarksPx;
    /** (2, 2): hip centre and body-circle point in image pixels, for the next frame's ROI. */
    public final double[][] auxPx;
    /** (33, 3) metres, hip-centred, rotated back to the image's up direction (NaN without a world output). */
    public final double[][] worldM;

    public LandmarkerOutput(Roi roi, double presence, double[][] landmarksPx, double[][] auxPx, double[][] worldM) {
        this.roi = roi;
        this.presence = presence;
        this.landmarksPx = landmarksPx;
        this.auxPx = auxPx;
        this.worldM = worldM;
    }
}
