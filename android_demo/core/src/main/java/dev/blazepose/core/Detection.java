package dev.blazepose.core;

/**
 * One detected person, all coordinates in image pixels; port of {@code blazepose_sdk.stages.detector.Detection}.
 */
public final class Detection {
    /** Detector confidence in [0, 1]. */
    public final double score;
    /** Face box: xmin, ymin, xmax, ymax. */
    public final double[] boxPx;
    /** Full-body alignment points: the ROI centre and the scale point. */
    public final double[] hipCenterPx;
    public final double[] bodyCirclePx;
    /** Upper-body alignment points. */
    public final double[] shoulderCenterPx;
    public final double[] upperBodyCirclePx;

    public Detection(double score, double[] boxPx, double[] hipCenterPx, double[] bodyCirclePx,
                     double[] shoulderCenterPx, double[] upperBodyCirclePx) {
        this.score = score;
        this.boxPx = boxPx.clone();
        this.hipCenterPx = hipCenterPx.clone();
        this.bodyCirclePx = bodyCirclePx.clone();
        this.shoulderCenterPx = shoulderCenterPx.clone();
        this.upperBodyCirclePx = upperBodyCirclePx.clone();
    }

    /** The landmark ROI this detection starts tracking with (hip centre to body-circle point). */
    public Roi roi() {
        return RoiMath.fromAlignmentPoints(hipCenterPx[0], hipCenterPx[1], bodyCirclePx[0], bodyCirclePx[1]);
    }
}
