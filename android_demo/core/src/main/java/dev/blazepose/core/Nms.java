package dev.blazepose.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Weighted non-maximum suppression, as MediaPipe's NonMaxSuppressionCalculator (WEIGHTED); port
 * of {@code blazepose_sdk.geometry.nms}. Boxes are rows whose first four values are xmin, ymin, xmax, ymax
 * in any consistent units.
 */
public final class Nms {
    /** NonMaxSuppressionCalculator min_suppression_threshold in pose_detection_cpu.pbtxt. */
    public static final float POSE_IOU_THRESHOLD = 0.3f;

    private Nms() {}

    /** The kept detections, best first. */
    public static final class Result {
        public final float[][] boxes;
        public final float[] scores;

        Result(float[][] boxes, float[] scores) {
            this.boxes = boxes;
            this.scores = scores;
        }
    }

    /**
     * Sum of {@code n} floats from {@code lo} in float32 with numpy's pairwise order (blocks of up to
     * 128 values summed with eight running sums), so that merged boxes equal the SDK's to the last bit.
     */
    static float pairwiseSum(float[] a, int lo, int n) {
        if (n < 8) {
            float res = 0f;
            for (int i = 0; i < n; i++) {
                res += a[lo + i];
            }
            return res;
        } else if (n <= 128) {
            float[] r = new float[8];
            System.arraycopy(a, lo, r, 0, 8);
            int i = 8;
            for (; i < n - (n % 8); i += 8) {
                for (int j = 0; j < 8; j++) {
                    r[j] += a[lo + i + j];
                }
            }
            float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) {
                res += a[lo + i];
            }
            return res;
        }
        int n2 = n / 2;
        n2 -= n2 % 8;
        return pairwiseSum(a, lo, n2) + pairwiseSum(a, lo + n2, n - n2);
    }

    /** Intersection over union of two boxes (xmin, ymin, xmax, ymax); 0 when the union is empty. */
    public static float iou(float[] a, float[] b) {
        float ix0 = Math.max(a[0], b[0]);
        float iy0 = Math.max(a[1], b[1]);
        float ix1 = Math.min(a[2], b[2]);
        float iy1 = Math.min(a[3], b[3]);
        float inter = Math.max(ix1 - ix0, 0f) * Math.max(iy1 - iy0, 0f);
        float area = Math.max((a[2] - a[0]) * (a[3] - a[1]), 0f);
        float areaB = Math.max(b[2] - b[0], 0f) * Math.max(b[3] - b[1], 0f);
        float union = area + areaB - inter;
        return union > 0 ? inter / union : 0f;
    }

    /**
     * Weighted NMS: each kept detection is the score-weighted mean of its overlapping cluster.
     *
     * <p>Candidates are taken in descending score order (ties keep input order). Every remaining
     * candidate whose IoU with the current best exceeds {@code iouThreshold} joins its cluster, the
     * best always included; all columns (box corners and keypoints alike) are averaged with the
     * scores as weights, and the cluster keeps the best candidate's score.
     *
     * @param maxDetections stop after this many clusters; 0 or less for no limit
     */
    public static Result weighted(float[][] boxes, float[] scores, float iouThreshold, int maxDetections) {
        if (boxes.length != scores.length) {
            throw new IllegalArgumentException("boxes and scores differ in length");
        }
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // Arrays.sort on objects is stable, as numpy's argsort(kind="stable") on -scores.
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -scores[i]));
        List<Integer> remaining = new ArrayList<>(Arrays.asList(order));
        List<float[]> keptBoxes = new ArrayList<>();
        List<Float> keptScores = new ArrayList<>();
        while (!remaining.isEmpty()) {
            int best = remaining.get(0);
            List<Integer> members = new ArrayList<>();
            List<Integer> rest = new ArrayList<>();
            for (int k = 0; k < remaining.size(); k++) {
                int idx = remaining.get(k);
                // the best always belongs to its own cluster (even a degenerate box)
                float overlap = k == 0 ? 1.0f : iou(boxes[best], boxes[idx]);
                if (k == 0 || overlap > iouThreshold) {
                    members.add(idx);
                } else {
                    rest.add(idx);
                }
            }
            int dim = boxes[best].length;
            float[] weights = new float[members.size()];
            for (int k = 0; k < weights.length; k++) {
                weights[k] = scores[members.get(k)];
            }
            float total = pairwiseSum(weights, 0, weights.length);
            float[] merged = new float[dim];
            if (total > 0) {
                // float32 like the SDK: score-weighted rows summed in cluster order, then divided
                for (int k = 0; k < weights.length; k++) {
                    float[] row = boxes[members.get(k)];
                    for (int d = 0; d < dim; d++) {
                        float product = row[d] * weights[k];
                        merged[d] = k == 0 ? product : merged[d] + product;
                    }
                }
                for (int d = 0; d < dim; d++) {
                    merged[d] = merged[d] / total;
                }
            } else {
                System.arraycopy(boxes[best], 0, merged, 0, dim);
            }
            keptBoxes.add(merged);
            keptScores.add(scores[best]);
            remaining = rest;
            if (maxDetections > 0 && keptBoxes.size() >= maxDetections) {
                break;
            }
        }
        float[] outScores = new float[keptScores.size()];
        for (int i = 0; i < outScores.length; i++) {
            outScores[i] = keptScores.get(i);
        }
        return new Result(keptBoxes.toArray(new float[0][]), outScores);
    }
}
