package dev.blazepose.core;

/**
 * Warps the (rotated) ROI of an RGB frame into a square float tensor; port of
 * {@code blazepose_sdk.geometry.image.crop_roi}, which calls OpenCV's {@code warpAffine} (bilinear) with the
 * matrix of {@link RoiMath#imageToTensorMatrix}.
 *
 * <p>Like OpenCV, a tensor pixel (u, v) samples the frame at {@code M^-1 (u, v)}, pixel centres at
 * integer coordinates, and the 8-bit result is rounded before it is mapped to the value range.
 * OpenCV quantizes positions to 1/32 pixel; this port samples exactly, so values can differ by about
 * one grey level.
 */
public final class ImageCrop {
    /** What a sample outside the frame reads. */
    public enum Border {
        /** Black, as the detector's BORDER_ZERO. */
        ZERO,
        /** The nearest edge pixel, ImageToTensorCalculator's default (used for landmarks). */
        REPLICATE
    }

    private ImageCrop() {}

    /**
     * Crop {@code roi} of {@code image} into {@code out} as (N, N, 3) float32 in row, column, channel
     * order, values mapped linearly from 0..255 to {@code lo..hi}.
     *
     * @param out at least N * N * 3 floats, written from index 0
     */
    public static void cropToTensor(RgbImage image, Roi roi, int tensorSize, float lo, float hi, Border border,
                                    float[] out) {
        if (out.length < tensorSize * tensorSize * 3) {
            throw new IllegalArgumentException("output holds " + out.length + " floats, need "
                    + tensorSize * tensorSize * 3);
        }
        double[] m = RoiMath.imageToTensorMatrix(roi, tensorSize);
        // invert the 2x3 affine map: tensor pixels -> image pixels
        double det = m[0] * m[4] - m[1] * m[3];
        double ia = m[4] / det;
        double ib = -m[1] / det;
        double id = -m[3] / det;
        double ie = m[0] / det;
        double itx = -(ia * m[2] + ib * m[5]);
        double ity = -(id * m[2] + ie * m[5]);
        float scale = (float) ((hi - (double) lo) / 255.0); // float32, as the SDK
        int w = image.width;
        int h = image.height;
        int[] px = image.argb;
        boolean replicate = border == Border.REPLICATE;
        int k = 0;
        for (int v = 0; v < tensorSize; v++) {
            for (int u = 0; u < tensorSize; u++) {
                double sx = ia * u + ib * v + itx;
                double sy = id * u + ie * v + ity;
                int x0 = (int) Math.floor(sx);
                int y0 = (int) Math.floor(sy);
                double fx = sx - x0;
                double fy = sy - y0;
                double r = 0;
                double g = 0;
                double b = 0;
                for (int dy = 0; dy < 2; dy++) {
                    double wy = dy == 0 ? 1.0 - fy : fy;
                    if (wy == 0.0) {
                        continue;
                    }
                    int yy = y0 + dy;
                    for (int dx = 0; dx < 2; dx++) {
                        double wx = dx == 0 ? 1.0 - fx : fx;
                        if (wx == 0.0) {
                            continue;
                        }
                        int xx = x0 + dx;
                        int p;
                        if (xx >= 0 && xx < w && yy >= 0 && yy < h) {
                            p = px[yy * w + xx];
                        } else if (replicate) {
                            p = px[Math.min(Math.max(yy, 0), h - 1) * w + Math.min(Math.max(xx, 0), w - 1)];
                        } else {
                            continue;
                        }
                        double wgt = wx * wy;
                        r += wgt * ((p >> 16) & 0xFF);
                        g += wgt * ((p >> 8) & 0xFF);
                        b += wgt * (p & 0xFF);
                    }
                }
                out[k++] = Math.round(r) * scale + lo;
                out[k++] = Math.round(g) * scale + lo;
                out[k++] = Math.round(b) * scale + lo;
            }
        }
    }
}
