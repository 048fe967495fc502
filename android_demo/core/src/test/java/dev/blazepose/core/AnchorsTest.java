package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;
import static org.junit.Assert.assertEquals;

import com.google.gson.JsonObject;
import org.junit.Test;

public class AnchorsTest {
    static AnchorOptions options(JsonObject o) {
        return new AnchorOptions(o.get("input_size_width").getAsInt(), o.get("input_size_height").getAsInt(),
                o.get("num_layers").getAsInt(), Golden.ints(o.get("strides")), o.get("anchor_offset_x").getAsDouble(),
                o.get("anchor_offset_y").getAsDouble(), Golden.doubles(o.get("aspect_ratios")),
                o.get("interpolated_scale_aspect_ratio").getAsDouble(), o.get("fixed_anchor_size").getAsBoolean(),
                o.get("min_scale").getAsDouble(), o.get("max_scale").getAsDouble());
    }

    @Test
    public void poseDetectorAnchorsMatchTheSdk() {
        JsonObject g = Golden.section("anchors").getAsJsonObject("default");
        float[][] fromGolden = Anchors.generate(options(g.getAsJsonObject("options")));
        float[][] anchors = Anchors.generate(AnchorOptions.poseDetector(224));
        assertEquals(g.get("count").getAsInt(), anchors.length);
        assertEquals(2254, anchors.length);
        int[] index = Golden.ints(g.get("sample_index"));
        double[][] sample = Golden.matrix(g.get("sample"));
        for (int k = 0; k < index.length; k++) {
            assertClose("anchor " + index[k], sample[k], anchors[index[k]], Golden.tol());
            assertClose("anchor from golden options " + index[k], sample[k], fromGolden[index[k]], Golden.tol());
        }
    }

    @Test
    public void customOptionsGiveTheSdkAnchorsInOrder() {
        JsonObject g = Golden.section("anchors").getAsJsonObject("custom");
        float[][] anchors = Anchors.generate(options(g.getAsJsonObject("options")));
        assertClose("custom anchors", Golden.matrix(g.get("anchors")), anchors, Golden.tol());
    }

    @Test(expected = IllegalArgumentException.class)
    public void stridesMustMatchLayers() {
        Anchors.generate(new AnchorOptions(224, 224, 3, new int[] {8, 16}, 0.5, 0.5, new double[] {1.0}, 1.0, true,
                0.1, 0.7));
    }
}
