package dev.blazepose.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * The golden vectors written by {@code python tools/golden.py}, and comparison helpers.
 *
 * <p>Read from the file named by the {@code golden.path} system property (run_tests.sh passes the
 * file it just regenerated from the current SDK), else from the {@code /golden.json} test resource
 * (the committed copy).
 */
final class Golden {
    private static JsonObject root;

    private Golden() {}

    static synchronized JsonObject root() {
        if (root == null) {
            String path = System.getProperty("golden.path");
            try (Reader reader = open(path)) {
                root = JsonParser.parseReader(reader).getAsJsonObject();
            } catch (IOException e) {
                throw new IllegalStateException("cannot read golden vectors: " + e, e);
            }
            assertEquals("golden format version", 1, root.get("format_version").getAsInt());
        }
        return root;
    }

    private static Reader open(String path) throws IOException {
        if (path != null && !path.isEmpty()) {
            Path p = Paths.get(path);
            return Files.newBufferedReader(p, StandardCharsets.UTF_8);
        }
        InputStream in = Golden.class.getResourceAsStream("/golden.json");
        if (in == null) {
            throw new IOException("no golden.path property and no /golden.json resource on the classpath");
        }
        return new InputStreamReader(in, StandardCharsets.UTF_8);
    }

    static JsonObject section(String name) {
        return root().getAsJsonObject(name);
    }

    /** The agreement asked of the port (1e-4). */
    static double tol() {
        return root().get("tolerance").getAsDouble();
    }

    // -- JSON to arrays --------------------------------------------------------------------------
    static double[] doubles(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsDouble();
        }
        return out;
    }

    static float[] floats(JsonElement e) {
        double[] d = doubles(e);
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    static int[] ints(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    static double[][] matrix(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        double[][] out = new double[a.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = doubles(a.get(i));
        }
        return out;
    }

    static float[][] floatMatrix(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        float[][] out = new float[a.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = floats(a.get(i));
        }
        return out;
    }

    static int[][] intMatrix(JsonElement e) {
        JsonArray a = e.getAsJsonArray();
        int[][] out = new int[a.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = ints(a.get(i));
        }
        return out;
    }

    static Roi roi(JsonElement e) {
        JsonObject o = e.getAsJsonObject();
        return new Roi(o.get("center_x_px").getAsDouble(), o.get("center_y_px").getAsDouble(),
                o.get("size_px").getAsDouble(), o.get("rotation_rad").getAsDouble());
    }

    static Detection detection(JsonElement e) {
        JsonObject o = e.getAsJsonObject();
        return new Detection(o.get("score").getAsDouble(), doubles(o.get("box_px")), doubles(o.get("hip_center_px")),
                doubles(o.get("body_circle_px")), doubles(o.get("shoulder_center_px")),
                doubles(o.get("upper_body_circle_px")));
    }

    static boolean isNull(JsonElement e) {
        return e == null || e.isJsonNull();
    }

    // -- comparisons -----------------------------------------------------------------------------
    static void assertClose(String what, double expected, double actual, double tol) {
        if (Double.isNaN(expected) && Double.isNaN(actual)) {
            return;
        }
        if (!(Math.abs(expected - actual) <= tol)) {
            fail(what + ": expected " + expected + ", got " + actual + " (|diff| " + Math.abs(expected - actual)
                    + " > " + tol + ")");
        }
    }

    static void assertClose(String what, double[] expected, double[] actual, double tol) {
        assertEquals(what + ": length", expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertClose(what + "[" + i + "]", expected[i], actual[i], tol);
        }
    }

    static void assertClose(String what, double[] expected, float[] actual, double tol) {
        double[] a = new double[actual.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = actual[i];
        }
        assertClose(what, expected, a, tol);
    }

    static void assertClose(String what, double[][] expected, double[][] actual, double tol) {
        assertEquals(what + ": rows", expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertClose(what + "[" + i + "]", expected[i], actual[i], tol);
        }
    }

    static void assertClose(String what, double[][] expected, float[][] actual, double tol) {
        assertEquals(what + ": rows", expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertClose(what + "[" + i + "]", expected[i], actual[i], tol);
        }
    }

    static void assertRoi(String what, JsonElement expected, Roi actual, double tol) {
        if (isNull(expected)) {
            assertTrue(what + ": expected no ROI, got " + actual, actual == null);
            return;
        }
        assertTrue(what + ": expected a ROI, got none", actual != null);
        Roi e = roi(expected);
        assertClose(what + ".center_x_px", e.centerXPx, actual.centerXPx, tol);
        assertClose(what + ".center_y_px", e.centerYPx, actual.centerYPx, tol);
        assertClose(what + ".size_px", e.sizePx, actual.sizePx, tol);
        assertClose(what + ".rotation_rad", e.rotationRad, actual.rotationRad, tol);
    }

    static void assertDetection(String what, JsonElement expected, Detection actual, double tol) {
        Detection e = detection(expected);
        assertClose(what + ".score", e.score, actual.score, tol);
        assertClose(what + ".box_px", e.boxPx, actual.boxPx, tol);
        assertClose(what + ".hip_center_px", e.hipCenterPx, actual.hipCenterPx, tol);
        assertClose(what + ".body_circle_px", e.bodyCirclePx, actual.bodyCirclePx, tol);
        assertClose(what + ".shoulder_center_px", e.shoulderCenterPx, actual.shoulderCenterPx, tol);
        assertClose(what + ".upper_body_circle_px", e.upperBodyCirclePx, actual.upperBodyCirclePx, tol);
    }
}
