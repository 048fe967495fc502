package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.junit.Test;

public class RoiTest {
    @Test
    public void alignmentPointCasesMatchTheSdk() {
        double tol = Golden.tol();
        int cases = 0;
        for (JsonElement e : Golden.section("roi").getAsJsonArray("alignment")) {
            JsonObject c = e.getAsJsonObject();
            String name = c.get("name").getAsString();
            double[] center = Golden.doubles(c.get("center_xy_px"));
            double[] scale = Golden.doubles(c.get("scale_xy_px"));
            Roi roi = RoiMath.fromAlignmentPoints(center[0], center[1], scale[0], scale[1]);
            Golden.assertRoi(name, c.get("roi"), roi, tol);
            assertEquals(name + " valid", c.get("valid").getAsBoolean(), roi.isValid());
            assertTrue(name + " rotation in [-pi, pi)", roi.rotationRad >= -Math.PI && roi.rotationRad < Math.PI);
            assertClose(name + " corners", Golden.matrix(c.get("corners_px")), roi.cornersPx(), tol);
            if (!Golden.isNull(c.get("roi_to_image"))) {
                assertClose(name + " roi_to_image", Golden.matrix(c.get("roi_to_image")),
                        RoiMath.roiToImage(Golden.matrix(c.get("points_roi")), roi), tol);
                assertClose(name + " image_to_roi", Golden.matrix(c.get("image_to_roi")),
                        RoiMath.imageToRoi(Golden.matrix(c.get("points_px")), roi), tol);
            }
            for (int n : new int[] {224, 256}) {
                JsonElement m = c.get("matrix_" + n);
                if (Golden.isNull(m)) {
                    try {
                        RoiMath.imageToTensorMatrix(roi, n);
                        throw new AssertionError(name + ": a degenerate ROI must not give a matrix");
                    } catch (IllegalArgumentException expected) {
                        // as the SDK's ValueError
                    }
                    continue;
                }
                double[][] expected = Golden.matrix(m);
                double[] actual = RoiMath.imageToTensorMatrix(roi, n);
                assertClose(name + " matrix_" + n, new double[] {expected[0][0], expected[0][1], expected[0][2],
                    expected[1][0], expected[1][1], expected[1][2]}, actual, tol);
            }
            cases++;
        }
        assertTrue("golden ROI cases present", cases >= 5);
    }

    @Test
    public void customScaleAndTargetAngle() {
        JsonObject c = Golden.section("roi").getAsJsonObject("custom_scale_angle");
        double[] center = Golden.doubles(c.get("center_xy_px"));
        double[] scale = Golden.doubles(c.get("scale_xy_px"));
        Roi roi = RoiMath.fromAlignmentPoints(center[0], center[1], scale[0], scale[1], c.get("scale").getAsDouble(),
                c.get("target_angle_rad").getAsDouble());
        Golden.assertRoi("custom", c.get("roi"), roi, Golden.tol());
    }

    @Test
    public void letterboxAndAngleWrapping() {
        JsonObject g = Golden.section("roi");
        for (JsonElement e : g.getAsJsonArray("letterbox")) {
            JsonObject c = e.getAsJsonObject();
            Golden.assertRoi("letterbox", c.get("roi"),
                    RoiMath.letterbox(c.get("width").getAsInt(), c.get("height").getAsInt()), Golden.tol());
        }
        double[] x = Golden.doubles(g.getAsJsonObject("normalize_radians").get("x"));
        double[] y = Golden.doubles(g.getAsJsonObject("normalize_radians").get("y"));
        for (int i = 0; i < x.length; i++) {
            assertClose("normalize_radians(" + x[i] + ")", y[i], RoiMath.normalizeRadians(x[i]), Golden.tol());
        }
    }

    @Test
    public void matrixMapsRoiCornersToTensorCorners() {
        Roi roi = new Roi(100.0, 50.0, 80.0, 0.7);
        double[] m = RoiMath.imageToTensorMatrix(roi, 256);
        double[][] corners = roi.cornersPx();
        double[][] expected = {{0, 0}, {256, 0}, {256, 256}, {0, 256}};
        for (int i = 0; i < 4; i++) {
            double u = m[0] * corners[i][0] + m[1] * corners[i][1] + m[2];
            double v = m[3] * corners[i][0] + m[4] * corners[i][1] + m[5];
            assertClose("corner " + i, expected[i], new double[] {u, v}, 1e-9);
        }
    }
}
