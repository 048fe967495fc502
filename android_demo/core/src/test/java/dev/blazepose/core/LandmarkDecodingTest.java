package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;

import com.google.gson.JsonObject;
import org.junit.Test;

public class LandmarkDecodingTest {
    @Test
    public void decodeMatchesTheSdk() {
        JsonObject g = Golden.section("landmarks").getAsJsonObject("decode");
        double[][] rows = LandmarkDecoding.decodeLandmarkTensor(Golden.floats(g.get("raw")), g.get("input_size").getAsInt(),
                g.get("num_rows").getAsInt());
        assertClose("landmarks_roi", Golden.matrix(g.get("landmarks_roi")), rows, Golden.tol());
    }

    @Test
    public void heatmapRefinementMatchesTheSdk() {
        JsonObject g = Golden.section("landmarks").getAsJsonObject("refine");
        int[] shape = Golden.ints(g.get("heatmap_shape"));
        float[] heatmap = Golden.floats(g.get("heatmap"));
        double[][] landmarks = Golden.matrix(g.get("landmarks_roi"));
        assertClose("kernel 7, min 0.5", Golden.matrix(g.get("kernel_size_7_min_0_5")),
                LandmarkDecoding.refineWithHeatmap(landmarks, heatmap, shape[0], shape[1], shape[2]), Golden.tol());
        assertClose("kernel 3, min 0.9", Golden.matrix(g.get("kernel_size_3_min_0_9")),
                LandmarkDecoding.refineWithHeatmap(landmarks, heatmap, shape[0], shape[1], shape[2], 3, 0.9), Golden.tol());
        assertClose("input unchanged", Golden.matrix(g.get("landmarks_roi")), landmarks, 0.0);
    }

    @Test
    public void projectionAndWorldRotationMatchTheSdk() {
        JsonObject p = Golden.section("landmarks").getAsJsonObject("project");
        assertClose("landmarks_px", Golden.matrix(p.get("landmarks_px")),
                RoiMath.projectLandmarks(Golden.matrix(p.get("landmarks_roi")), Golden.roi(p.get("roi"))), Golden.tol());
        JsonObject w = Golden.section("landmarks").getAsJsonObject("world");
        assertClose("world rotated", Golden.matrix(w.get("rotated")),
                RoiMath.rotateWorldLandmarks(Golden.matrix(w.get("world_m")), w.get("rotation_rad").getAsDouble()),
                Golden.tol());
    }
}
