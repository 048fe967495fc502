package dev.blazepose.core;

/**
 * One-Euro filter over an array of values sampled at increasing timestamps; port of
 * {@code blazepose_sdk.geometry.smoothing.OneEuroFilter} (Casiez et al., CHI 2012, as MediaPipe's
 * LandmarksSmoothingCalculator applies it: the speed is multiplied by {@code valueScale}, 1 / object
 * size in pixels, so the same settings work for near and far people).
 */
public final class OneEuroFilter {
    /** OneEuroFilter frequency option default (Hz), used until two timestamps give a real rate. */
    public static final double DEFAULT_FREQUENCY_HZ = 30.0;

    private final double minCutoff;
    private final double beta;
    private final double derivateCutoff;
    private final double defaultFrequencyHz;
    private double frequencyHz;
    private Double lastTimeS;
    private final LowPassFilter x = new LowPassFilter(0.0);
    private final LowPassFilter dx = new LowPassFilter(0.0);

    /**
     * @param minCutoff cutoff (Hz) when still; lower is smoother
     * @param beta how fast the cutoff rises with speed; higher lags less
     * @param derivateCutoff cutoff (Hz) of the speed estimate
     */
    public OneEuroFilter(double minCutoff, double beta, double derivateCutoff) {
        this(minCutoff, beta, derivateCutoff, DEFAULT_FREQUENCY_HZ);
    }

    public OneEuroFilter(double minCutoff, double beta, double derivateCutoff, double frequencyHz) {
        this.minCutoff = minCutoff;
        this.beta = beta;
        this.derivateCutoff = derivateCutoff;
        this.defaultFrequencyHz = frequencyHz;
        reset();
    }

    public void reset() {
        frequencyHz = defaultFrequencyHz;
        lastTimeS = null;
        x.reset();
        dx.reset();
    }

    /** Alpha of an exponential smoother with the given cutoff at the given sample rate. */
    public static double expSmoothingAlpha(double cutoffHz, double frequencyHz) {
        double te = 1.0 / frequencyHz;
        double tau = 1.0 / (2.0 * Math.PI * cutoffHz);
        return 1.0 / (1.0 + tau / te);
    }

    /**
     * Filter {@code value} taken at {@code timestampS} (seconds); a timestamp not after the last one
     * returns a copy of the value unfiltered and changes nothing, as MediaPipe does.
     */
    public double[] apply(double[] value, double timestampS, double valueScale) {
        if (lastTimeS != null && timestampS <= lastTimeS) {
            return value.clone();
        }
        if (lastTimeS != null) {
            frequencyHz = 1.0 / (timestampS - lastTimeS);
        }
        lastTimeS = timestampS;
        double[] speed = new double[value.length];
        double[] lastRaw = x.lastRaw();
        if (lastRaw != null) {
            for (int i = 0; i < value.length; i++) {
                speed[i] = (value[i] - lastRaw[i]) * valueScale * frequencyHz;
            }
        }
        double[] smoothedSpeed = dx.applyWithAlpha(speed, null, expSmoothingAlpha(derivateCutoff, frequencyHz));
        double[] alphas = new double[value.length];
        for (int i = 0; i < value.length; i++) {
            double cutoff = minCutoff + beta * Math.abs(smoothedSpeed[i]);
            alphas[i] = 1.0 / (1.0 + (1.0 / (2.0 * Math.PI * cutoff)) * frequencyHz);
        }
        return x.applyWithAlpha(value, alphas, 0.0);
    }
}
