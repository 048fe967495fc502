package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.junit.Test;

public class DecodeTest {
    static DecodeOptions options(JsonObject o) {
        return new DecodeOptions(o.get("num_keypoints").getAsInt(), o.get("box_coord_offset").getAsInt(),
                o.get("keypoint_coord_offset").getAsInt(), o.get("num_values_per_keypoint").getAsInt(),
                o.get("x_scale").getAsFloat(), o.get("y_scale").getAsFloat(), o.get("w_scale").getAsFloat(),
                o.get("h_scale").getAsFloat(), o.get("score_clipping_thresh").getAsFloat(),
                o.get("reverse_output_order").getAsBoolean());
    }

    static float[] flatten(float[][] m) {
        float[] out = new float[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) {
            System.arraycopy(m[i], 0, out, i * m[0].length, m[0].length);
        }
        return out;
    }

    @Test
    public void sigmoidMatchesTheSdk() {
        JsonObject g = Golden.section("decode").getAsJsonObject("sigmoid");
        float[] x = Golden.floats(g.get("x"));
        double[] y = Golden.doubles(g.get("y"));
        for (int i = 0; i < x.length; i++) {
            assertClose("sigmoid(" + x[i] + ")", y[i], Anchors.sigmoid(x[i]), Golden.tol());
        }
    }

    @Test
    public void boxesKeypointsAndScoresDecodeInBothOutputOrders() {
        for (JsonElement e : Golden.section("decode").getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            DecodeOptions options = options(c.getAsJsonObject("options"));
            float[][] anchors = Golden.floatMatrix(c.get("anchors"));
            float[][] raw = Golden.floatMatrix(c.get("raw_boxes"));
            String what = "reverse_output_order=" + options.reverseOutputOrder;
            float[][] boxes = Anchors.decodeBoxes(flatten(raw), raw[0].length, anchors, options);
            assertClose(what + " boxes", Golden.matrix(c.get("boxes")), boxes, Golden.tol());
            assertClose(what + " scores", Golden.doubles(c.get("scores")),
                    Anchors.decodeScores(Golden.floats(c.get("raw_scores")), options), Golden.tol());
        }
    }

    @Test(expected = IllegalArgumentException.class)
    public void rawSizeMustMatchAnchors() {
        float[][] anchors = Anchors.generate(AnchorOptions.poseDetector(224));
        Anchors.decodeBoxes(new float[12 * 10], 12, anchors, DecodeOptions.poseDetector(224, 4));
    }
}
