package dev.blazepose.core;

import static org.junit.Assert.assertEquals;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.junit.Test;

public class SignatureTest {
    private static int index(JsonObject c, String key) {
        return Golden.isNull(c.get(key)) ? -1 : c.get(key).getAsInt();
    }

    @Test
    public void detectorOutputsAreFoundLikeTheSdk() {
        for (JsonElement e : Golden.section("signatures").getAsJsonArray("detector")) {
            JsonObject c = e.getAsJsonObject();
            int[][] outputs = Golden.intMatrix(c.get("output_shapes"));
            ModelSignature.Detector d = ModelSignature.detector(new int[][] {Golden.ints(c.get("input_shape"))}, outputs,
                    Anchors.generate(AnchorOptions.poseDetector(224)).length);
            assertEquals("boxes", index(c, "boxes"), d.boxesIndex);
            assertEquals("scores", index(c, "scores"), d.scoresIndex);
            assertEquals("keypoints", c.get("num_keypoints").getAsInt(), d.numKeypoints);
        }
    }

    @Test
    public void landmarkOutputsAreFoundLikeTheSdk() {
        for (JsonElement e : Golden.section("signatures").getAsJsonArray("landmark")) {
            JsonObject c = e.getAsJsonObject();
            int[][] outputs = Golden.intMatrix(c.get("output_shapes"));
            ModelSignature.Landmark l = ModelSignature.landmark(new int[][] {Golden.ints(c.get("input_shape"))}, outputs);
            assertEquals("landmarks", index(c, "landmarks"), l.landmarksIndex);
            assertEquals("presence", index(c, "presence"), l.presenceIndex);
            assertEquals("heatmap", index(c, "heatmap"), l.heatmapIndex);
            assertEquals("world", index(c, "world"), l.worldIndex);
            assertEquals("rows", c.get("num_rows").getAsInt(), l.numRows);
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void detectorWithoutScoresIsRefused() {
        ModelSignature.detector(new int[][] {{1, 224, 224, 3}}, new int[][] {{1, 2254, 12}}, 2254);
    }

    @Test(expected = IllegalArgumentException.class)
    public void landmarkModelWithTooFewRowsIsRefused() {
        ModelSignature.landmark(new int[][] {{1, 256, 256, 3}}, new int[][] {{1, 100}, {1, 1}});
    }
}
