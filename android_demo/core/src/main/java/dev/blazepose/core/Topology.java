package dev.blazepose.core;

/**
 * The BlazePose 33-landmark topology; port of {@code blazepose_sdk.geometry.topology}. Indices and names follow
 * MediaPipe's pose_landmark_topology (listed in mediapipe/modules/pose_landmark/pose_landmark_cpu.pbtxt).
 */
public final class Topology {
    private Topology() {}

    public static final String[] LANDMARK_NAMES = {
        "nose",
        "left_eye_inner", "left_eye", "left_eye_outer",
        "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear",
        "mouth_left", "mouth_right",
        "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow",
        "left_wrist", "right_wrist",
        "left_pinky", "right_pinky",
        "left_index", "right_index",
        "left_thumb", "right_thumb",
        "left_hip", "right_hip",
        "left_knee", "right_knee",
        "left_ankle", "right_ankle",
        "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    };
    /** 33 landmarks. */
    public static final int NUM_LANDMARKS = LANDMARK_NAMES.length;
    /** Rows in the landmark model's output: 33 + 2 auxiliary + 4 unused. */
    public static final int NUM_MODEL_LANDMARKS = 39;
    /** Model row of the auxiliary hip-centre point. */
    public static final int AUX_HIP_CENTER = 33;
    /** Model row of the auxiliary full-body-circle point. */
    public static final int AUX_BODY_CIRCLE = 34;

    /** Skeleton edges drawn by MediaPipe's POSE_CONNECTIONS (face, arms, hands, torso, legs, feet). */
    public static final int[][] SKELETON_EDGES = {
        {0, 1}, {1, 2}, {2, 3}, {3, 7}, {0, 4}, {4, 5}, {5, 6}, {6, 8}, {9, 10},
        {11, 12}, {11, 13}, {13, 15}, {15, 17}, {15, 19}, {15, 21}, {17, 19},
        {12, 14}, {14, 16}, {16, 18}, {16, 20}, {16, 22}, {18, 20},
        {11, 23}, {12, 24}, {23, 24},
        {23, 25}, {24, 26}, {25, 27}, {26, 28}, {27, 29}, {28, 30}, {29, 31}, {30, 32}, {27, 31}, {28, 32},
    };
}
