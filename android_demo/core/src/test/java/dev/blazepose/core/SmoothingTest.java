package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.junit.Test;

public class SmoothingTest {
    @Test
    public void oneEuroSequencesMatchTheSdk() {
        JsonObject g = Golden.section("smoothing");
        double[] times = Golden.doubles(g.get("times_s"));
        double[][] values = Golden.matrix(g.get("values"));
        double[] scales = Golden.doubles(g.get("value_scales"));
        for (JsonElement e : g.getAsJsonArray("one_euro")) {
            JsonObject c = e.getAsJsonObject();
            OneEuroFilter f = new OneEuroFilter(c.get("min_cutoff").getAsDouble(), c.get("beta").getAsDouble(),
                    c.get("derivate_cutoff").getAsDouble());
            double[][] expected = Golden.matrix(c.get("output"));
            for (int i = 0; i < times.length; i++) {
                assertClose("one-euro(" + c.get("min_cutoff") + ", " + c.get("beta") + ") step " + i, expected[i],
                        f.apply(values[i], times[i], scales[i]), Golden.tol());
            }
        }
        JsonObject lp = g.getAsJsonObject("low_pass");
        LowPassFilter f = new LowPassFilter(lp.get("alpha").getAsDouble());
        double[][] expected = Golden.matrix(lp.get("output"));
        for (int i = 0; i < values.length; i++) {
            assertClose("low-pass step " + i, expected[i], f.apply(values[i]), Golden.tol());
        }
    }

    @Test
    public void poseAndAuxiliarySmoothersMatchTheSdk() {
        JsonObject g = Golden.section("smoothing").getAsJsonObject("pose_smoother");
        PoseSmoother smoother = new PoseSmoother(SmoothingOptions.DEFAULTS);
        AuxiliarySmoother aux = new AuxiliarySmoother();
        JsonArray frames = g.getAsJsonArray("frames");
        for (int i = 0; i < frames.size(); i++) {
            JsonObject f = frames.get(i).getAsJsonObject();
            if (f.get("reset_before").getAsBoolean()) {
                smoother.reset();
                aux.reset();
            }
            double t = f.get("timestamp_s").getAsDouble();
            double scale = f.get("object_scale_px").getAsDouble();
            PoseSmoother.Output out = smoother.apply(Golden.matrix(f.get("landmarks_px")), Golden.matrix(f.get("world_m")),
                    t, scale);
            assertClose("frame " + i + " landmarks", Golden.matrix(f.get("out_landmarks_px")), out.landmarksPx, Golden.tol());
            assertClose("frame " + i + " world", Golden.matrix(f.get("out_world_m")), out.worldM, Golden.tol());
            assertClose("frame " + i + " aux", Golden.matrix(f.get("out_aux_px")),
                    aux.apply(Golden.matrix(f.get("aux_px")), t, scale), Golden.tol());
        }
    }

    @Test
    public void defaultsAreMediaPipesGraphValues() {
        JsonObject o = Golden.section("smoothing").getAsJsonObject("pose_smoother").getAsJsonObject("options");
        SmoothingOptions d = SmoothingOptions.DEFAULTS;
        assertClose("min_cutoff", o.get("min_cutoff").getAsDouble(), d.minCutoff, 0);
        assertClose("beta", o.get("beta").getAsDouble(), d.beta, 0);
        assertClose("derivate_cutoff", o.get("derivate_cutoff").getAsDouble(), d.derivateCutoff, 0);
        assertClose("world_min_cutoff", o.get("world_min_cutoff").getAsDouble(), d.worldMinCutoff, 0);
        assertClose("world_beta", o.get("world_beta").getAsDouble(), d.worldBeta, 0);
        assertClose("visibility_alpha", o.get("visibility_alpha").getAsDouble(), d.visibilityAlpha, 0);
    }
}
