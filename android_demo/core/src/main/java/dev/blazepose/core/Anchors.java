package dev.blazepose.core;

import java.util.ArrayList;
import java.util.List;

/**
 * SSD anchor generation and raw-tensor decoding for the BlazePose person detector; port of
 * {@code blazepose_sdk.geometry.anchors}.
 *
 * <p>Coordinates are normalized to the detector's (letterboxed) input tensor: 0..1 of its
 * width/height. Tensor-level values are float32, as in the SDK.
 */
public final class Anchors {
    private Anchors() {}

    private static double calculateScale(double minScale, double maxScale, int strideIndex, int numStrides) {
        if (numStrides == 1) {
            return (minScale + maxScale) * 0.5;
        }
        return minScale + (maxScale - minScale) * strideIndex / (numStrides - 1.0);
    }

    /**
     * SSD anchors as rows of (x_center, y_center, width, height).
     *
     * <p>Consecutive layers with the same stride share one feature map, as in MediaPipe's
     * SsdAnchorsCalculator; the order is layer group, row, column, anchor. With
     * {@code fixedAnchorSize} every width and height is 1. For the BlazePose detector this yields
     * 28*28*2 + 14*14*2 + 7*7*6 = 2254 anchors.
     */
    public static float[][] generate(AnchorOptions options) {
        if (options.strides.length != options.numLayers) {
            throw new IllegalArgumentException("strides must have numLayers entries");
        }
        List<float[]> anchors = new ArrayList<>();
        int layerId = 0;
        while (layerId < options.numLayers) {
            List<double[]> sizes = new ArrayList<>(); // (height, width) per anchor of this group
            int lastSame = layerId;
            while (lastSame < options.numLayers && options.strides[lastSame] == options.strides[layerId]) {
                double scale = calculateScale(options.minScale, options.maxScale, lastSame, options.numLayers);
                for (double ratio : options.aspectRatios) {
                    double r = Math.sqrt(ratio);
                    sizes.add(new double[] {scale / r, scale * r});
                }
                if (options.interpolatedScaleAspectRatio > 0.0) {
                    double scaleNext = lastSame == options.numLayers - 1
                            ? 1.0
                            : calculateScale(options.minScale, options.maxScale, lastSame + 1, options.numLayers);
                    double s = Math.sqrt(scale * scaleNext);
                    double r = Math.sqrt(options.interpolatedScaleAspectRatio);
                    sizes.add(new double[] {s / r, s * r});
                }
                lastSame++;
            }
            int stride = options.strides[layerId];
            int fh = (int) Math.ceil(options.inputSizeHeight / (double) stride);
            int fw = (int) Math.ceil(options.inputSizeWidth / (double) stride);
            for (int y = 0; y < fh; y++) {
                for (int x = 0; x < fw; x++) {
                    float cx = (float) ((x + options.anchorOffsetX) / fw);
                    float cy = (float) ((y + options.anchorOffsetY) / fh);
                    for (double[] hw : sizes) {
                        if (options.fixedAnchorSize) {
                            anchors.add(new float[] {cx, cy, 1.0f, 1.0f});
                        } else {
                            anchors.add(new float[] {cx, cy, (float) hw[1], (float) hw[0]});
                        }
                    }
                }
            }
            layerId = lastSame;
        }
        return anchors.toArray(new float[0][]);
    }

    /**
     * Logistic function computed in double without overflow and rounded to float, like the SDK's
     * {@code sigmoid} (small probabilities keep their relative precision).
     */
    public static float sigmoid(float x) {
        double e = Math.exp(-Math.abs((double) x));
        return (float) (x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
    }

    /**
     * Decode one anchor's raw regressor row into box and keypoints.
     *
     * @param raw flat (N * numCoords) raw boxes, as the model writes them
     * @param row anchor index
     * @param numCoords values per anchor (at least 4 + 2 * numKeypoints)
     * @param anchors anchors from {@link #generate}
     * @return xmin, ymin, xmax, ymax, then (x, y) per keypoint, normalized to the detector input
     */
    public static float[] decodeBox(float[] raw, int row, int numCoords, float[][] anchors, DecodeOptions options) {
        int base = row * numCoords;
        int o = base + options.boxCoordOffset;
        float rx;
        float ry;
        float rw;
        float rh;
        if (options.reverseOutputOrder) {
            rx = raw[o];
            ry = raw[o + 1];
            rw = raw[o + 2];
            rh = raw[o + 3];
        } else {
            ry = raw[o];
            rx = raw[o + 1];
            rh = raw[o + 2];
            rw = raw[o + 3];
        }
        float[] a = anchors[row];
        float ax = a[0];
        float ay = a[1];
        float aw = a[2];
        float ah = a[3];
        float cx = rx / options.xScale * aw + ax;
        float cy = ry / options.yScale * ah + ay;
        float w = rw / options.wScale * aw;
        float h = rh / options.hScale * ah;
        float[] out = new float[4 + 2 * options.numKeypoints];
        out[0] = cx - w / 2;
        out[1] = cy - h / 2;
        out[2] = cx + w / 2;
        out[3] = cy + h / 2;
        for (int k = 0; k < options.numKeypoints; k++) {
            int kb = base + options.keypointCoordOffset + k * options.numValuesPerKeypoint;
            float kx;
            float ky;
            if (options.reverseOutputOrder) {
                kx = raw[kb];
                ky = raw[kb + 1];
            } else {
                ky = raw[kb];
                kx = raw[kb + 1];
            }
            out[4 + 2 * k] = kx / options.xScale * aw + ax;
            out[5 + 2 * k] = ky / options.yScale * ah + ay;
        }
        return out;
    }

    /** Decode every anchor's row; (N, 4 + 2K) like the SDK's {@code decode_boxes}. */
    public static float[][] decodeBoxes(float[] raw, int numCoords, float[][] anchors, DecodeOptions options) {
        if (raw.length != anchors.length * numCoords) {
            throw new IllegalArgumentException("raw boxes hold " + raw.length + " values, expected "
                    + anchors.length + " anchors x " + numCoords);
        }
        if (numCoords < 4 + 2 * options.numKeypoints) {
            throw new IllegalArgumentException("numCoords " + numCoords + " too small for "
                    + options.numKeypoints + " keypoints");
        }
        float[][] out = new float[anchors.length][];
        for (int i = 0; i < anchors.length; i++) {
            out[i] = decodeBox(raw, i, numCoords, anchors, options);
        }
        return out;
    }

    /** Clip raw logits to +-scoreClippingThresh and apply the sigmoid. */
    public static float[] decodeScores(float[] rawScores, DecodeOptions options) {
        float t = options.scoreClippingThresh;
        float[] out = new float[rawScores.length];
        for (int i = 0; i < rawScores.length; i++) {
            out[i] = sigmoid(Math.max(-t, Math.min(t, rawScores[i])));
        }
        return out;
    }
}
