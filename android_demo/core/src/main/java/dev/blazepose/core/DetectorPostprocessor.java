package dev.blazepose.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything the person detector needs around its interpreter call; port of
 * {@code blazepose_sdk.stages.detector.PoseDetector} minus the interpreter.
 *
 * <p>Before the call, crop the frame's {@link #frameRoi letterbox ROI} with {@link ImageCrop}
 * (value range {@link #VALUE_MIN}..{@link #VALUE_MAX}, zero border); after it, {@link #decode}
 * the two raw output tensors into image-pixel detections.
 */
public final class DetectorPostprocessor {
    /** ImageToTensorCalculator output_tensor_float_range in pose_detection_cpu.pbtxt. */
    public static final float VALUE_MIN = -1.0f;
    public static final float VALUE_MAX = 1.0f;
    /** Legacy solution's min_detection_confidence default (mediapipe/python/solutions/pose.py). */
    public static final float DEFAULT_MIN_SCORE = 0.5f;

    public final int inputSize;
    public final int numCoords;
    public final float[][] anchors;
    public final DecodeOptions decodeOptions;
    private float minScore;

    /**
     * @param inputSize side of the detector's square input (224)
     * @param numCoords values per anchor in the raw boxes tensor (12)
     * @param minScore detections below this confidence are dropped
     */
    public DetectorPostprocessor(int inputSize, int numCoords, float minScore) {
        this.inputSize = inputSize;
        this.numCoords = numCoords;
        this.anchors = Anchors.generate(AnchorOptions.poseDetector(inputSize));
        this.decodeOptions = DecodeOptions.poseDetector(inputSize, (numCoords - 4) / 2);
        this.minScore = minScore;
    }

    public float minScore() {
        return minScore;
    }

    public void setMinScore(float minScore) {
        this.minScore = minScore;
    }

    /** The ROI whose crop is the detector's letterboxed input. */
    public static Roi frameRoi(int imageWidth, int imageHeight) {
        return RoiMath.letterbox(imageWidth, imageHeight);
    }

    /**
     * Decode the detector's raw tensors into detections, best first, image pixels: sigmoid scores,
     * drop those below the minimum score, decode the rest, weighted NMS, undo the letterbox.
     *
     * @param rawBoxes flat (N * numCoords) raw boxes
     * @param rawScores (N) raw score logits
     */
    public List<Detection> decode(float[] rawBoxes, float[] rawScores, int imageWidth, int imageHeight) {
        if (rawScores.length != anchors.length) {
            throw new IllegalArgumentException(rawScores.length + " raw scores for " + anchors.length + " anchors");
        }
        return decodeScored(rawBoxes, Anchors.decodeScores(rawScores, decodeOptions), imageWidth, imageHeight);
    }

    /**
     * {@link #decode} from scores already passed through {@link Anchors#decodeScores}.
     *
     * @param scores (N) probabilities
     */
    public List<Detection> decodeScored(float[] rawBoxes, float[] scores, int imageWidth, int imageHeight) {
        int n = anchors.length;
        if (scores.length != n || rawBoxes.length != n * numCoords) {
            throw new IllegalArgumentException("tensors (" + rawBoxes.length + ", " + scores.length
                    + " values) do not match " + n + " anchors x " + numCoords + " coords");
        }
        List<float[]> boxes = new ArrayList<>();
        List<Float> kept = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (scores[i] >= minScore) { // only these rows are decoded; decoding is row by row
                boxes.add(Anchors.decodeBox(rawBoxes, i, numCoords, anchors, decodeOptions));
                kept.add(scores[i]);
            }
        }
        List<Detection> out = new ArrayList<>();
        if (boxes.isEmpty()) {
            return out;
        }
        float[] keptScores = new float[kept.size()];
        for (int i = 0; i < keptScores.length; i++) {
            keptScores[i] = kept.get(i);
        }
        Nms.Result nms = Nms.weighted(boxes.toArray(new float[0][]), keptScores, Nms.POSE_IOU_THRESHOLD, 0);
        return detectionsFromDecoded(nms.boxes, nms.scores, frameRoi(imageWidth, imageHeight));
    }

    /** Turn decoded rows (normalized to the letterboxed tensor) into image-pixel detections. */
    public static List<Detection> detectionsFromDecoded(float[][] boxesNorm, float[] scores, Roi frameRoi) {
        List<Detection> out = new ArrayList<>();
        for (int d = 0; d < boxesNorm.length; d++) {
            float[] row = boxesNorm[d];
            double[][] pts = new double[row.length / 2][];
            for (int k = 0; k < pts.length; k++) { // box corners, then the keypoints
                pts[k] = RoiMath.roiToImage(row[2 * k], row[2 * k + 1], frameRoi);
            }
            if (pts.length < 6) {
                throw new IllegalArgumentException("detections need 4 keypoints, got " + (pts.length - 2));
            }
            out.add(new Detection(scores[d], new double[] {pts[0][0], pts[0][1], pts[1][0], pts[1][1]},
                    pts[2], pts[3], pts[4], pts[5]));
        }
        return out;
    }
}
