package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.Arrays;
import java.util.List;
import org.junit.Test;

/**
 * Decoding of the official models' real output tensors (the detector and the full landmark model
 * on basketball1.png), as recorded by the SDK.
 */
public class ReferenceModelTest {
    /**
     * Low thresholds let clusters of faint candidates through, whose weights carry the float32
     * rounding of the SDK's sigmoid (numpy's float32 tanh is not correctly rounded: scores differ by
     * about one float32 step near 1.0, up to 1e-5 relative for scores near 0.01). Scaled to a 640 px
     * frame that can move a merged point by slightly more than 1e-4 px; from raw logits, those
     * thresholds are held to this looser bound. From the SDK's own scores every threshold meets 1e-4.
     */
    private static final double LOW_THRESHOLD_TOLERANCE_PX = 1e-3;

    private static float[] rawBoxes(JsonObject g) {
        int numAnchors = g.get("num_anchors").getAsInt();
        int numCoords = g.get("num_coords").getAsInt();
        // Only candidate rows were stored; the others are NaN so that using one would show.
        float[] rawBoxes = new float[numAnchors * numCoords];
        Arrays.fill(rawBoxes, Float.NaN);
        int[] stored = Golden.ints(g.get("stored_rows"));
        float[][] rows = Golden.floatMatrix(g.get("raw_box_rows"));
        for (int k = 0; k < stored.length; k++) {
            System.arraycopy(rows[k], 0, rawBoxes, stored[k] * numCoords, numCoords);
        }
        return rawBoxes;
    }

    private static void assertDetections(String what, JsonElement expected, List<Detection> actual, double tol) {
        assertEquals(what + " detections", expected.getAsJsonArray().size(), actual.size());
        for (int d = 0; d < actual.size(); d++) {
            Golden.assertDetection(what + " detection " + d, expected.getAsJsonArray().get(d), actual.get(d), tol);
        }
    }

    @Test
    public void detectorScoresAndRowsDecodeLikeTheSdk() {
        JsonObject g = Golden.section("detector");
        int numCoords = g.get("num_coords").getAsInt();
        DetectorPostprocessor post = new DetectorPostprocessor(g.get("input_size").getAsInt(), numCoords,
                DetectorPostprocessor.DEFAULT_MIN_SCORE);
        assertEquals(g.get("num_anchors").getAsInt(), post.anchors.length);
        assertClose("scores", Golden.doubles(g.get("scores")),
                Anchors.decodeScores(Golden.floats(g.get("raw_scores")), post.decodeOptions), Golden.tol());
        float[] rawBoxes = rawBoxes(g);
        int[] stored = Golden.ints(g.get("stored_rows"));
        double[][] decoded = Golden.matrix(g.get("decoded_rows"));
        for (int k = 0; k < stored.length; k++) {
            assertClose("decoded row " + stored[k], decoded[k],
                    Anchors.decodeBox(rawBoxes, stored[k], numCoords, post.anchors, post.decodeOptions), Golden.tol());
        }
    }

    @Test
    public void detectorTensorsDecodeToTheSdksDetections() {
        JsonObject g = Golden.section("detector");
        int[] size = Golden.ints(g.get("image_size"));
        float[] rawBoxes = rawBoxes(g);
        float[] rawScores = Golden.floats(g.get("raw_scores"));
        float[] sdkScores = Golden.floats(g.get("scores"));
        DetectorPostprocessor post = new DetectorPostprocessor(g.get("input_size").getAsInt(),
                g.get("num_coords").getAsInt(), DetectorPostprocessor.DEFAULT_MIN_SCORE);
        int checked = 0;
        for (JsonElement e : g.getAsJsonArray("results")) {
            JsonObject r = e.getAsJsonObject();
            post.setMinScore(r.get("min_score").getAsFloat());
            String what = "min_score " + post.minScore();
            // NMS, decoding and the letterbox from the SDK's scores: 1e-4 px at every threshold
            assertDetections(what + " (SDK scores)", r.get("detections"),
                    post.decodeScored(rawBoxes, sdkScores, size[0], size[1]), Golden.tol());
            // the whole path from raw logits, as the app runs it
            double tol = post.minScore() >= DetectorPostprocessor.DEFAULT_MIN_SCORE ? Golden.tol()
                    : LOW_THRESHOLD_TOLERANCE_PX;
            assertDetections(what + " (raw logits)", r.get("detections"),
                    post.decode(rawBoxes, rawScores, size[0], size[1]), tol);
            checked += r.getAsJsonArray("detections").size();
        }
        assertTrue("the model found the player", checked >= 1);
    }

    @Test
    public void landmarkTensorsDecodeToTheSdksLandmarks() {
        JsonObject g = Golden.section("landmark_model");
        int[] shape = Golden.ints(g.get("heatmap_shape"));
        float[] heatmap = new float[shape[0] * shape[1] * shape[2]];
        Arrays.fill(heatmap, Float.NaN); // only the windows refinement reads were stored
        int windows = 0;
        for (JsonElement e : g.getAsJsonArray("heatmap_windows")) {
            JsonObject w = e.getAsJsonObject();
            int ch = w.get("channel").getAsInt();
            int r0 = w.get("row0").getAsInt();
            int c0 = w.get("col0").getAsInt();
            int rows = w.get("rows").getAsInt();
            int cols = w.get("cols").getAsInt();
            float[] logits = Golden.floats(w.get("logits"));
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    heatmap[((r0 + r) * shape[1] + c0 + c) * shape[2] + ch] = logits[r * cols + c];
                }
            }
            windows++;
        }
        assertTrue("heatmap windows present", windows > 0);
        LandmarkPostprocessor post = new LandmarkPostprocessor(g.get("input_size").getAsInt(), g.get("num_rows").getAsInt(),
                true);
        LandmarkerOutput out = post.decode(Golden.floats(g.get("raw_landmarks")), g.get("presence").getAsFloat(), heatmap,
                shape[0], shape[1], Golden.floats(g.get("raw_world")), Golden.roi(g.get("roi")));
        JsonObject e = g.getAsJsonObject("expected");
        double tol = Golden.tol();
        assertClose("presence", e.get("presence").getAsDouble(), out.presence, tol);
        assertClose("landmarks_px", Golden.matrix(e.get("landmarks_px")), out.landmarksPx, tol);
        assertClose("aux_px", Golden.matrix(e.get("aux_px")), out.auxPx, tol);
        assertClose("world_m", Golden.matrix(e.get("world_m")), out.worldM, tol);
    }
}
