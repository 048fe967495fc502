package dev.blazepose.core;

/**
 * Smooths the two auxiliary ROI points (hip centre, body-circle point), in pixels; port of
 * {@code blazepose_sdk.geometry.smoothing.AuxiliarySmoother}.
 */
public final class AuxiliarySmoother {
    private final OneEuroFilter xy = new OneEuroFilter(SmoothingOptions.AUX_MIN_CUTOFF, SmoothingOptions.AUX_BETA,
            SmoothingOptions.LANDMARK_DERIVATE_CUTOFF);

    public void reset() {
        xy.reset();
    }

    /** Smoothed copy of (2, 2) points; unfiltered (and the filter untouched) below the minimum object scale. */
    public double[][] apply(double[][] auxPx, double timestampS, double objectScalePx) {
        if (objectScalePx <= PoseSmoother.MIN_OBJECT_SCALE_PX) {
            return Arrays2.copy(auxPx);
        }
        double[] out = xy.apply(Arrays2.flatten(auxPx), timestampS, 1.0 / objectScalePx);
        return Arrays2.reshape(out, auxPx.length, auxPx[0].length);
    }
}
