package dev.blazepose.core;

/**
 * Exponential smoothing over an array of values: {@code y = alpha * x + (1 - alpha) * y_prev}; the
 * first value passes. Port of {@code blazepose_sdk.geometry.smoothing.LowPassFilter}.
 */
public final class LowPassFilter {
    private final double alpha;
    private double[] lastRaw;
    private double[] lastFiltered;

    public LowPassFilter(double alpha) {
        this.alpha = alpha;
    }

    /** Filter with this filter's alpha. */
    public double[] apply(double[] value) {
        return applyWithAlpha(value, null, alpha);
    }

    /**
     * Filter with a per-element alpha ({@code alphas}, same length as {@code value}) or, when
     * {@code alphas} is null, the scalar {@code alpha}.
     */
    double[] applyWithAlpha(double[] value, double[] alphas, double alpha) {
        double[] filtered = new double[value.length];
        if (lastFiltered == null) {
            System.arraycopy(value, 0, filtered, 0, value.length);
        } else {
            if (lastFiltered.length != value.length) {
                throw new IllegalArgumentException("value length changed from " + lastFiltered.length
                        + " to " + value.length + "; reset the filter first");
            }
            for (int i = 0; i < value.length; i++) {
                double a = alphas != null ? alphas[i] : alpha;
                filtered[i] = a * value[i] + (1.0 - a) * lastFiltered[i];
            }
        }
        lastRaw = value.clone();
        lastFiltered = filtered.clone();
        return filtered;
    }

    /** The last unfiltered input, or null before the first value. */
    double[] lastRaw() {
        return lastRaw;
    }

    public void reset() {
        lastRaw = null;
        lastFiltered = null;
    }
}
