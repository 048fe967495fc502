package dev.blazepose.core;

import java.util.List;

/**
 * The two-stage tracker: detector, ROI, landmarks, smoothing, with ROI tracking; port of
 * {@code blazepose_sdk.tracker.PoseTracker} with the two networks behind interfaces.
 *
 * <p>On a video the detector runs only when there is no tracked ROI or the landmark model's pose
 * presence for the tracked ROI falls below {@code minTrackingConfidence}; otherwise the next frame's
 * ROI comes from the current frame's (smoothed) auxiliary landmarks, as MediaPipe's
 * pose_landmark_cpu.pbtxt graph does. Not thread-safe: one tracker per stream.
 *
 * @param <F> the frame type the stages take ({@link RgbImage} in the app)
 */
public final class PoseTracker<F> {
    /** Frame interval assumed when process() is called without a timestamp (30 fps). */
    public static final double DEFAULT_FRAME_INTERVAL_MS = 1000.0 / 30.0;

    /** The person detector: detections in image pixels, best first. */
    public interface Detector<F> {
        List<Detection> detect(F frame);
    }

    /** The landmark model run on one ROI of a frame. */
    public interface Landmarker<F> {
        LandmarkerOutput landmarks(F frame, Roi roi);
    }

    private final Detector<F> detector;
    private final Landmarker<F> landmarker;
    private final TrackerOptions options;
    private final PoseSmoother smoother;
    private final AuxiliarySmoother auxSmoother = new AuxiliarySmoother();
    private Roi roi;
    private Double lastTimestampMs;
    private int framesProcessed;
    private int detectorRuns;
    private int landmarkRuns;

    public PoseTracker(Detector<F> detector, Landmarker<F> landmarker, TrackerOptions options) {
        this.detector = detector;
        this.landmarker = landmarker;
        this.options = options;
        this.smoother = new PoseSmoother(options.smoothing);
    }

    /** Person size used to normalise smoothing: twice the hip-centre to body-circle distance. */
    public static double objectScalePx(double[][] auxPx) {
        return 2.0 * Math.hypot(auxPx[1][0] - auxPx[0][0], auxPx[1][1] - auxPx[0][1]);
    }

    /** Forget the tracked ROI and filter state (start of a new, unrelated stream). */
    public void reset() {
        roi = null;
        lastTimestampMs = null;
        smoother.reset();
        auxSmoother.reset();
    }

    /** The ROI the next frame will use, or null if the next frame runs the detector. */
    public Roi trackedRoi() {
        return roi;
    }

    public int framesProcessed() {
        return framesProcessed;
    }

    public int detectorRuns() {
        return detectorRuns;
    }

    public int landmarkRuns() {
        return landmarkRuns;
    }

    public TrackerOptions options() {
        return options;
    }

    private double timestamp(Double timestampMs) {
        if (timestampMs == null) {
            return lastTimestampMs == null ? 0.0 : lastTimestampMs + DEFAULT_FRAME_INTERVAL_MS;
        }
        if (!Double.isFinite(timestampMs)) {
            throw new IllegalArgumentException("timestampMs must be finite, got " + timestampMs);
        }
        return timestampMs;
    }

    private LandmarkerOutput runLandmarks(F frame, Roi r) {
        landmarkRuns++;
        LandmarkerOutput out = landmarker.landmarks(frame, r);
        return out.presence >= options.minTrackingConfidence ? out : null;
    }

    /**
     * Find the pose in one frame.
     *
     * @param timestampMs the frame's time, increasing on a video; null assumes 30 fps
     * @throws IllegalArgumentException for a non-finite timestamp; the tracker's state is unchanged
     */
    public PoseResult process(F frame, int imageWidth, int imageHeight, Double timestampMs) {
        double tMs = timestamp(timestampMs);
        boolean isStatic = options.staticImageMode;
        boolean detectorRan = false;
        boolean tracked = false;
        Detection detection = null;
        LandmarkerOutput out = null;
        if (!isStatic && roi != null) {
            out = runLandmarks(frame, roi);
            tracked = out != null;
        }
        if (out == null && (isStatic || roi == null || options.redetectOnLoss)) {
            detectorRan = true;
            detectorRuns++;
            List<Detection> detections = detector.detect(frame);
            if (!detections.isEmpty()) {
                detection = detections.get(0);
                Roi start = detection.roi();
                if (start.isValid()) {
                    out = runLandmarks(frame, start);
                }
            }
        }

        int index = framesProcessed++;
        lastTimestampMs = tMs;
        if (out == null) {
            roi = null;
            smoother.reset();
            auxSmoother.reset();
            return new PoseResult(index, tMs, imageWidth, imageHeight, null, detection, detectorRan, false);
        }

        double[][] landmarks = out.landmarksPx;
        double[][] world = out.worldM;
        if (!isStatic) {
            double tS = tMs / 1000.0;
            // every filter's object scale comes from the raw auxiliary points (pose_landmark_filtering.pbtxt)
            double scale = objectScalePx(out.auxPx);
            double[][] aux = auxSmoother.apply(out.auxPx, tS, scale);
            if (options.smoothLandmarks) {
                PoseSmoother.Output smoothed = smoother.apply(landmarks, world, tS, scale);
                landmarks = smoothed.landmarksPx;
                world = smoothed.worldM;
            }
            Roi next = RoiMath.fromAlignmentPoints(aux[0][0], aux[0][1], aux[1][0], aux[1][1]);
            roi = next.isValid() ? next : null;
        }
        Pose pose = new Pose(out.presence, out.roi, landmarks, world);
        return new PoseResult(index, tMs, imageWidth, imageHeight, pose, detection, detectorRan, tracked);
    }
}
