package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;
import static org.junit.Assert.assertEquals;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.junit.Test;

public class NmsTest {
    @Test
    public void iouMatchesTheSdk() {
        JsonObject g = Golden.section("nms");
        float[][] boxes = Golden.floatMatrix(g.get("boxes"));
        double[] expected = Golden.doubles(g.get("iou_first"));
        for (int i = 0; i < boxes.length; i++) {
            assertClose("iou(0, " + i + ")", expected[i], Nms.iou(boxes[0], boxes[i]), Golden.tol());
        }
    }

    @Test
    public void weightedNmsMergesClustersLikeTheSdk() {
        JsonObject g = Golden.section("nms");
        float[][] boxes = Golden.floatMatrix(g.get("boxes"));
        float[] scores = Golden.floats(g.get("scores"));
        for (JsonElement e : g.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            float threshold = c.get("iou_threshold").getAsFloat();
            int maxDet = Golden.isNull(c.get("max_detections")) ? 0 : c.get("max_detections").getAsInt();
            Nms.Result r = Nms.weighted(boxes, scores, threshold, maxDet);
            String what = "nms(threshold=" + threshold + ", max=" + maxDet + ")";
            double[][] expected = Golden.matrix(c.get("boxes"));
            assertEquals(what + " clusters", expected.length, r.boxes.length);
            assertClose(what + " boxes", expected, r.boxes, Golden.tol());
            assertClose(what + " scores", Golden.doubles(c.get("scores")), r.scores, Golden.tol());
        }
    }

    @Test
    public void zeroScoresKeepTheBestBox() {
        JsonObject g = Golden.section("nms").getAsJsonObject("zero_scores");
        float[][] boxes = Golden.floatMatrix(g.get("boxes"));
        Nms.Result r = Nms.weighted(boxes, new float[boxes.length], Nms.POSE_IOU_THRESHOLD, 0);
        assertClose("boxes", Golden.matrix(g.get("out_boxes")), r.boxes, Golden.tol());
        assertClose("scores", Golden.doubles(g.get("out_scores")), r.scores, Golden.tol());
    }

    @Test
    public void emptyInputGivesNoDetections() {
        Nms.Result r = Nms.weighted(new float[0][], new float[0], 0.3f, 0);
        assertEquals(0, r.boxes.length);
        assertEquals(0, r.scores.length);
    }
}
