package dev.blazepose.core;

/**
 * A rotated square region of an image; port of {@code blazepose_sdk.geometry.roi.Roi}.
 *
 * <p>Frames: image pixels (x right, y down, origin top-left); ROI-normalized (0..1 across the
 * rotated crop, (0, 0) its top-left corner). A rotation turns the ROI clockwise on screen: a point
 * p in ROI-normalized coordinates lies at {@code center + size * R(theta) (p - 0.5)} in the image,
 * with {@code R = [[cos, -sin], [sin, cos]]} (MediaPipe's LandmarkProjectionCalculator convention).
 */
public final class Roi {
    /** Below this side length (pixels) a ROI cannot hold a person; it is treated as no ROI. */
    public static final double MIN_SIZE_PX = 2.0;

    public final double centerXPx;
    public final double centerYPx;
    public final double sizePx;
    /** Clockwise rotation on screen, radians in [-pi, pi). */
    public final double rotationRad;

    public Roi(double centerXPx, double centerYPx, double sizePx, double rotationRad) {
        this.centerXPx = centerXPx;
        this.centerYPx = centerYPx;
        this.sizePx = sizePx;
        this.rotationRad = rotationRad;
    }

    /** Finite and at least {@link #MIN_SIZE_PX} wide. */
    public boolean isValid() {
        return Double.isFinite(centerXPx) && Double.isFinite(centerYPx) && Double.isFinite(sizePx)
                && Double.isFinite(rotationRad) && sizePx >= MIN_SIZE_PX;
    }

    /** (4, 2) corners in image pixels: top-left, top-right, bottom-right, bottom-left of the crop. */
    public double[][] cornersPx() {
        return RoiMath.roiToImage(new double[][] {{0, 0}, {1, 0}, {1, 1}, {0, 1}}, this);
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "Roi(center=(%.2f, %.2f), size=%.2f, rotation=%.4f rad)",
                centerXPx, centerYPx, sizePx, rotationRad);
    }
}
