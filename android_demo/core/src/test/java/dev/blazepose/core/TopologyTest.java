package dev.blazepose.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.junit.Test;

public class TopologyTest {
    @Test
    public void namesEdgesAndAuxiliaryRowsMatchTheSdk() {
        JsonObject g = Golden.section("topology");
        JsonArray names = g.getAsJsonArray("landmark_names");
        assertEquals(names.size(), Topology.NUM_LANDMARKS);
        for (int i = 0; i < names.size(); i++) {
            assertEquals("name " + i, names.get(i).getAsString(), Topology.LANDMARK_NAMES[i]);
        }
        int[][] edges = Golden.intMatrix(g.get("skeleton_edges"));
        assertEquals(edges.length, Topology.SKELETON_EDGES.length);
        for (int i = 0; i < edges.length; i++) {
            assertArrayEquals("edge " + i, edges[i], Topology.SKELETON_EDGES[i]);
        }
        assertEquals(g.get("num_model_landmarks").getAsInt(), Topology.NUM_MODEL_LANDMARKS);
        assertEquals(g.get("aux_hip_center").getAsInt(), Topology.AUX_HIP_CENTER);
        assertEquals(g.get("aux_body_circle").getAsInt(), Topology.AUX_BODY_CIRCLE);
    }
}
