package dev.blazepose.core;

/**
 * Decoding of the landmark network's tensors; port of {@code decode_landmark_tensor} and
 * {@code refine_with_heatmap} in {@code blazepose_sdk.stages.landmarker}.
 */
public final class LandmarkDecoding {
    /** RefineLandmarksFromHeatmapCalculator kernel_size in tensors_to_pose_landmarks_and_segmentation.pbtxt. */
    public static final int HEATMAP_KERNEL_SIZE = 7;
    /** RefineLandmarksFromHeatmapCalculator min_confidence_to_refine (the options' default). */
    public static final double HEATMAP_MIN_CONFIDENCE = 0.5;

    private LandmarkDecoding() {}

    /**
     * Decode a raw landmark tensor into ROI-normalized rows, as TensorsToLandmarksCalculator with
     * SIGMOID visibility and presence activations.
     *
     * @param raw flat (numRows * valuesPerRow) tensor, tensor pixels for x, y, z
     * @return (numRows, 5): x, y, z divided by {@code inputSize} (x, y 0..1 across the crop, z in x's
     *     units), visibility = sigmoid, presence = sigmoid (1 when the row has no such value)
     */
    public static double[][] decodeLandmarkTensor(float[] raw, int inputSize, int numRows) {
        if (numRows <= 0 || raw.length % numRows != 0) {
            throw new IllegalArgumentException(raw.length + " values do not split into " + numRows + " rows");
        }
        int per = raw.length / numRows;
        if (per < 3) {
            throw new IllegalArgumentException("landmark rows need at least x, y, z");
        }
        double[][] out = new double[numRows][5];
        for (int i = 0; i < numRows; i++) {
            int b = i * per;
            out[i][0] = raw[b] / (double) inputSize;
            out[i][1] = raw[b + 1] / (double) inputSize;
            out[i][2] = raw[b + 2] / (double) inputSize;
            out[i][3] = per > 3 ? Anchors.sigmoid(raw[b + 3]) : 1.0;
            out[i][4] = per > 4 ? Anchors.sigmoid(raw[b + 4]) : 1.0;
        }
        return out;
    }

    /** {@link #refineWithHeatmap(double[][], float[], int, int, int, int, double)} with the pose graph's kernel and threshold. */
    public static double[][] refineWithHeatmap(double[][] landmarksRoi, float[] heatmapLogits, int height, int width,
                                               int channels) {
        return refineWithHeatmap(landmarksRoi, heatmapLogits, height, width, channels, HEATMAP_KERNEL_SIZE,
                HEATMAP_MIN_CONFIDENCE);
    }

    /**
     * Replace x, y by the confidence-weighted mean of the heatmap around each landmark.
     *
     * <p>For landmark i at ROI-normalized (x, y), take the {@code kernelSize} window of channel i of
     * the (H, W, N) heatmap around cell ((int) (x * W), (int) (y * H)), clipped at the borders; with
     * confidence = sigmoid(logit), if the window's maximum confidence is at least
     * {@code minConfidence} the landmark moves to (sum(col * c) / sum(c) / W, sum(row * c) / sum(c) / H).
     * Landmarks outside the heatmap are left as they are. Positions only, as MediaPipe's
     * RefineLandmarksFromHeatmapCalculator.
     *
     * @param heatmapLogits flat (H, W, N) logits in row, column, channel order (the model's NHWC layout)
     * @return a refined copy of the landmarks
     */
    public static double[][] refineWithHeatmap(double[][] landmarksRoi, float[] heatmapLogits, int height, int width,
                                               int channels, int kernelSize, double minConfidence) {
        if (channels != landmarksRoi.length) {
            throw new IllegalArgumentException("heatmap has " + channels + " channels for "
                    + landmarksRoi.length + " landmarks");
        }
        if (heatmapLogits.length != height * width * channels) {
            throw new IllegalArgumentException("heatmap holds " + heatmapLogits.length + " values, expected "
                    + height + " x " + width + " x " + channels);
        }
        double[][] lm = new double[landmarksRoi.length][];
        for (int i = 0; i < lm.length; i++) {
            lm[i] = landmarksRoi[i].clone();
        }
        int half = (kernelSize - 1) / 2;
        for (int i = 0; i < channels; i++) {
            double x = lm[i][0] * width;
            double y = lm[i][1] * height;
            if (Double.isNaN(x) || Double.isNaN(y)) {
                continue;
            }
            int col = (int) x; // truncation toward zero, as C++ int()
            int row = (int) y;
            if (col < 0 || col >= width || row < 0 || row >= height) {
                continue;
            }
            int r0 = Math.max(0, row - half);
            int r1 = Math.min(height, row + half + 1);
            int c0 = Math.max(0, col - half);
            int c1 = Math.min(width, col + half + 1);
            double total = 0.0;
            double maxConf = 0.0;
            double sumCol = 0.0;
            double sumRow = 0.0;
            for (int r = r0; r < r1; r++) {
                for (int c = c0; c < c1; c++) {
                    double conf = Anchors.sigmoid(heatmapLogits[(r * width + c) * channels + i]);
                    total += conf;
                    maxConf = Math.max(maxConf, conf);
                    sumCol += c * conf;
                    sumRow += r * conf;
                }
            }
            if (total > 0 && maxConf >= minConfidence) {
                lm[i][0] = sumCol / total / width;
                lm[i][1] = sumRow / total / height;
            }
        }
        return lm;
    }
}
