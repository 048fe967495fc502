package dev.blazepose.core;

import static dev.blazepose.core.Golden.assertClose;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * Replays the SDK tracker's recorded stage outputs through the port: the detector and landmark
 * model are stand-ins that return what the SDK's stand-ins returned, in the same order, and check
 * that the port asks for landmarks in the same ROIs. Decisions (detect or track), smoothing and
 * the next ROI must then match frame by frame.
 */
public class TrackerTest {
    private static final class Replay implements PoseTracker.Detector<Object>, PoseTracker.Landmarker<Object> {
        final Deque<JsonArray> detections = new ArrayDeque<>();
        final Deque<JsonObject> landmarkCalls = new ArrayDeque<>();
        String where = "";

        @Override
        public List<Detection> detect(Object frame) {
            assertTrue(where + ": the port ran the detector where the SDK did not", !detections.isEmpty());
            List<Detection> out = new ArrayList<>();
            for (JsonElement d : detections.pop()) {
                out.add(Golden.detection(d));
            }
            return out;
        }

        @Override
        public LandmarkerOutput landmarks(Object frame, Roi roi) {
            assertTrue(where + ": the port ran the landmark model where the SDK did not", !landmarkCalls.isEmpty());
            JsonObject c = landmarkCalls.pop();
            Golden.assertRoi(where + " landmark ROI", c.get("roi"), roi, Golden.tol());
            return new LandmarkerOutput(roi, c.get("presence").getAsDouble(), Golden.matrix(c.get("landmarks_px")),
                    Golden.matrix(c.get("aux_px")), Golden.matrix(c.get("world_m")));
        }
    }

    private static void replay(String name, JsonObject seq) {
        JsonObject o = seq.getAsJsonObject("options");
        TrackerOptions options = TrackerOptions.builder()
                .staticImageMode(o.get("static_image_mode").getAsBoolean())
                .minDetectionConfidence(o.get("min_detection_confidence").getAsDouble())
                .minTrackingConfidence(o.get("min_tracking_confidence").getAsDouble())
                .smoothLandmarks(o.get("smooth_landmarks").getAsBoolean())
                .redetectOnLoss(o.get("redetect_on_loss").getAsBoolean())
                .build();
        Replay stages = new Replay();
        PoseTracker<Object> tracker = new PoseTracker<>(stages, stages, options);
        int[] size = Golden.ints(seq.get("image_size"));
        JsonArray frames = seq.getAsJsonArray("frames");
        double tol = Golden.tol();
        for (int i = 0; i < frames.size(); i++) {
            JsonObject f = frames.get(i).getAsJsonObject();
            String where = name + " frame " + i;
            stages.where = where;
            for (JsonElement d : f.getAsJsonArray("detector_calls")) {
                stages.detections.add(d.getAsJsonArray());
            }
            for (JsonElement c : f.getAsJsonArray("landmark_calls")) {
                stages.landmarkCalls.add(c.getAsJsonObject());
            }
            Double t = Golden.isNull(f.get("timestamp_ms")) ? null : f.get("timestamp_ms").getAsDouble();
            PoseResult r = tracker.process(new Object(), size[0], size[1], t);
            assertTrue(where + ": the SDK ran the detector more often", stages.detections.isEmpty());
            assertTrue(where + ": the SDK ran the landmark model more often", stages.landmarkCalls.isEmpty());

            JsonObject e = f.getAsJsonObject("result");
            assertEquals(where + " index", i, r.frameIndex);
            assertClose(where + " timestamp", e.get("timestamp_ms").getAsDouble(), r.timestampMs, tol);
            assertEquals(where + " detector_ran", e.get("detector_ran").getAsBoolean(), r.detectorRan);
            assertEquals(where + " tracked", e.get("tracked").getAsBoolean(), r.tracked);
            if (Golden.isNull(e.get("detection"))) {
                assertNull(where + " detection", r.detection);
            } else {
                assertNotNull(where + " detection", r.detection);
                Golden.assertDetection(where + " detection", e.get("detection"), r.detection, tol);
            }
            if (Golden.isNull(e.get("pose"))) {
                assertNull(where + " pose", r.pose);
            } else {
                JsonObject p = e.getAsJsonObject("pose");
                assertNotNull(where + " pose", r.pose);
                assertClose(where + " presence", p.get("presence").getAsDouble(), r.pose.presence, tol);
                Golden.assertRoi(where + " pose ROI", p.get("roi"), r.pose.roi, tol);
                assertClose(where + " landmarks", Golden.matrix(p.get("landmarks_px")), r.pose.landmarksPx, tol);
                assertClose(where + " world", Golden.matrix(p.get("world_m")), r.pose.worldM, tol);
            }
            Golden.assertRoi(where + " next ROI", f.get("next_roi"), tracker.trackedRoi(), tol);
            JsonObject stats = f.getAsJsonObject("stats");
            assertEquals(where + " frames", stats.get("frames").getAsInt(), tracker.framesProcessed());
            assertEquals(where + " detector runs", stats.get("detector_runs").getAsInt(), tracker.detectorRuns());
            assertEquals(where + " landmark runs", stats.get("landmark_runs").getAsInt(), tracker.landmarkRuns());
        }
    }

    @Test
    public void trackerSequencesMatchTheSdk() {
        int sequences = 0;
        for (Map.Entry<String, JsonElement> e : Golden.section("tracker").entrySet()) {
            replay(e.getKey(), e.getValue().getAsJsonObject());
            sequences++;
        }
        assertTrue("golden tracker sequences present", sequences >= 3);
    }

    @Test
    public void detectorRunsOnlyWhenTrackingIsLost() {
        // hand-checked decisions of the default sequence: detect, track x6, then presence drops
        JsonArray frames = Golden.section("tracker").getAsJsonObject("default").getAsJsonArray("frames");
        boolean[] ran = new boolean[frames.size()];
        for (int i = 0; i < ran.length; i++) {
            ran[i] = frames.get(i).getAsJsonObject().getAsJsonObject("result").get("detector_ran").getAsBoolean();
        }
        assertTrue(ran[0]);
        assertTrue(!ran[1] && !ran[2] && !ran[3]);
        assertTrue("presence 0.30 < 0.5 re-detects on the same frame", ran[4]);
    }

    @Test(expected = IllegalArgumentException.class)
    public void nonFiniteTimestampIsRefused() {
        Replay stages = new Replay();
        new PoseTracker<>(stages, stages, TrackerOptions.builder().build()).process(new Object(), 10, 10, Double.NaN);
    }

    @Test(expected = IllegalArgumentException.class)
    public void confidenceOutsideUnitIntervalIsRefused() {
        TrackerOptions.builder().minTrackingConfidence(1.5).build();
    }
}
