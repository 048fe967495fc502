package dev.blazepose.core;

/**
 * ROIs from alignment points and the affine maps around them; port of {@code blazepose_sdk.geometry.roi}.
 * Geometry is float64, as in the SDK. See {@link Roi} for the coordinate frames.
 */
public final class RoiMath {
    /**
     * Expansion of the alignment-point box, from RectTransformationCalculator (scale_x/scale_y
     * 1.25) in mediapipe/modules/pose_landmark/pose_detection_to_roi.pbtxt and pose_landmarks_to_roi.pbtxt.
     */
    public static final double ROI_SCALE = 1.25;
    /**
     * rotation_vector_target_angle_degrees 90 in the same graphs: the hip-centre to body-circle
     * vector (from the hips towards the head) is turned to point straight up.
     */
    public static final double TARGET_ANGLE_RAD = Math.PI / 2;

    private RoiMath() {}

    /** Wrap an angle to [-pi, pi). */
    public static double normalizeRadians(double angle) {
        return angle - 2 * Math.PI * Math.floor((angle + Math.PI) / (2 * Math.PI));
    }

    /** {@link #fromAlignmentPoints(double, double, double, double, double, double)} with the pose graphs' scale and angle. */
    public static Roi fromAlignmentPoints(double centerX, double centerY, double scaleX, double scaleY) {
        return fromAlignmentPoints(centerX, centerY, scaleX, scaleY, ROI_SCALE, TARGET_ANGLE_RAD);
    }

    /**
     * ROI from two alignment points (image pixels), as AlignmentPointsRectsCalculator +
     * RectTransformation: centred on the centre point (the hip centre), side twice the distance to
     * the scale point (the body-circle point) times {@code scale}, rotated so that the vector centre
     * to scale point maps to {@code targetAngleRad} (straight up for pi/2).
     */
    public static Roi fromAlignmentPoints(double centerX, double centerY, double scaleX, double scaleY,
                                          double scale, double targetAngleRad) {
        double dx = scaleX - centerX;
        double dy = scaleY - centerY;
        double radius = Math.hypot(dx, dy);
        double rotation = normalizeRadians(targetAngleRad - Math.atan2(-dy, dx));
        return new Roi(centerX, centerY, 2.0 * radius * scale, rotation);
    }

    /**
     * The unrotated square ROI that letterboxes a whole frame (keep aspect, centred padding), as
     * MediaPipe's ImageToTensor with keep_aspect_ratio.
     */
    public static Roi letterbox(int imageWidth, int imageHeight) {
        return new Roi(imageWidth / 2.0, imageHeight / 2.0, Math.max(imageWidth, imageHeight), 0.0);
    }

    /** Map one ROI-normalized point to image pixels. */
    public static double[] roiToImage(double xRoi, double yRoi, Roi roi) {
        double c = Math.cos(roi.rotationRad);
        double s = Math.sin(roi.rotationRad);
        double px = (xRoi - 0.5) * roi.sizePx;
        double py = (yRoi - 0.5) * roi.sizePx;
        return new double[] {roi.centerXPx + c * px - s * py, roi.centerYPx + s * px + c * py};
    }

    /** Map (N, 2) ROI-normalized points to image pixels. */
    public static double[][] roiToImage(double[][] pointsRoi, Roi roi) {
        double[][] out = new double[pointsRoi.length][];
        for (int i = 0; i < pointsRoi.length; i++) {
            out[i] = roiToImage(pointsRoi[i][0], pointsRoi[i][1], roi);
        }
        return out;
    }

    /** Map (N, 2) image-pixel points to ROI-normalized coordinates (inverse of roiToImage). */
    public static double[][] imageToRoi(double[][] pointsPx, Roi roi) {
        double c = Math.cos(roi.rotationRad);
        double s = Math.sin(roi.rotationRad);
        double[][] out = new double[pointsPx.length][];
        for (int i = 0; i < pointsPx.length; i++) {
            double dx = pointsPx[i][0] - roi.centerXPx;
            double dy = pointsPx[i][1] - roi.centerYPx;
            out[i] = new double[] {(c * dx + s * dy) / roi.sizePx + 0.5, (-s * dx + c * dy) / roi.sizePx + 0.5};
        }
        return out;
    }

    /**
     * 2x3 affine matrix (row-major, 6 values) taking image pixels to tensor pixels of an N x N crop
     * of {@code roi}; the ROI's corners land on the tensor's corners (0 and N), as the corner
     * mapping in MediaPipe's ImageToTensorCalculator.
     *
     * @throws IllegalArgumentException for a non-finite ROI or one of size 0 or less
     */
    public static double[] imageToTensorMatrix(Roi roi, int tensorSize) {
        if (!(Double.isFinite(roi.centerXPx) && Double.isFinite(roi.centerYPx) && Double.isFinite(roi.sizePx)
                && Double.isFinite(roi.rotationRad)) || roi.sizePx <= 0) {
            throw new IllegalArgumentException("cannot crop degenerate ROI " + roi);
        }
        double k = tensorSize / roi.sizePx;
        double c = Math.cos(roi.rotationRad);
        double s = Math.sin(roi.rotationRad);
        // linear = k * R^T, offset = N/2 - linear @ center
        double a = k * c;
        double b = k * s;
        double d = -k * s;
        double e = k * c;
        double tx = tensorSize / 2.0 - (a * roi.centerXPx + b * roi.centerYPx);
        double ty = tensorSize / 2.0 - (d * roi.centerXPx + e * roi.centerYPx);
        return new double[] {a, b, tx, d, e, ty};
    }

    /**
     * Project ROI-normalized landmarks to image pixels.
     *
     * @param landmarksRoi (N, C >= 3): x, y ROI-normalized, z in crop widths, then extra columns
     * @return (N, C): x_px, y_px, z_px (z times the ROI size, x's pixel units), extra columns copied
     */
    public static double[][] projectLandmarks(double[][] landmarksRoi, Roi roi) {
        double[][] out = new double[landmarksRoi.length][];
        for (int i = 0; i < landmarksRoi.length; i++) {
            double[] row = landmarksRoi[i].clone();
            double[] xy = roiToImage(row[0], row[1], roi);
            row[0] = xy[0];
            row[1] = xy[1];
            row[2] = row[2] * roi.sizePx;
            out[i] = row;
        }
        return out;
    }

    /**
     * Rotate (N, 3) world landmarks (metres, hip-centred) about the z axis by the ROI rotation, as
     * MediaPipe's WorldLandmarkProjectionCalculator.
     */
    public static double[][] rotateWorldLandmarks(double[][] worldM, double rotationRad) {
        double c = Math.cos(rotationRad);
        double s = Math.sin(rotationRad);
        double[][] out = new double[worldM.length][];
        for (int i = 0; i < worldM.length; i++) {
            double[] w = worldM[i];
            out[i] = new double[] {c * w[0] - s * w[1], s * w[0] + c * w[1], w[2]};
        }
        return out;
    }
}
