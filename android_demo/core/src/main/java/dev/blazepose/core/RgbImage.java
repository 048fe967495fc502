package dev.blazepose.core;

/**
 * An RGB frame as packed 0xAARRGGBB ints, row-major (the layout of Android's
 * {@code Bitmap.getPixels}); alpha is ignored. Coordinates are image pixels, origin top-left.
 */
public final class RgbImage {
    public final int width;
    public final int height;
    /** width * height packed pixels, row by row. */
    public final int[] argb;

    public RgbImage(int width, int height, int[] argb) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image must not be empty, got " + width + "x" + height);
        }
        if (argb.length != width * height) {
            throw new IllegalArgumentException(argb.length + " pixels for a " + width + "x" + height + " image");
        }
        this.width = width;
        this.height = height;
        this.argb = argb;
    }

    /** An image from interleaved 8-bit RGB values (row, column, channel order). */
    public static RgbImage fromRgbBytes(int width, int height, int[] rgb) {
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException(rgb.length + " values for a " + width + "x" + height + " RGB image");
        }
        int[] argb = new int[width * height];
        for (int i = 0; i < argb.length; i++) {
            argb[i] = 0xFF000000 | (rgb[3 * i] & 0xFF) << 16 | (rgb[3 * i + 1] & 0xFF) << 8 | (rgb[3 * i + 2] & 0xFF);
        }
        return new RgbImage(width, height, argb);
    }

    /**
     * This image turned clockwise by {@code degrees} (0, 90, 180 or 270), e.g. a camera frame by its
     * rotation so that it is upright on screen.
     */
    public RgbImage rotatedClockwise(int degrees) {
        int d = ((degrees % 360) + 360) % 360;
        if (d == 0) {
            return this;
        }
        if (d != 90 && d != 180 && d != 270) {
            throw new IllegalArgumentException("rotation must be a multiple of 90 degrees, got " + degrees);
        }
        int outW = d == 180 ? width : height;
        int outH = d == 180 ? height : width;
        int[] out = new int[argb.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int nx;
                int ny;
                if (d == 90) {
                    nx = height - 1 - y;
                    ny = x;
                } else if (d == 180) {
                    nx = width - 1 - x;
                    ny = height - 1 - y;
                } else {
                    nx = y;
                    ny = width - 1 - x;
                }
                out[ny * outW + nx] = argb[y * width + x];
            }
        }
        return new RgbImage(outW, outH, out);
    }
}
