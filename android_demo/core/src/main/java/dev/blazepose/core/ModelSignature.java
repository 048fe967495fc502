package dev.blazepose.core;

/**
 * Which model output is which, found from tensor shapes alone; port of the output-finding logic of
 * {@code PoseDetector} and {@code PoseLandmarker} in the SDK. Shapes are as the interpreter reports
 * them, batch first.
 */
public final class ModelSignature {
    private ModelSignature() {}

    private static int product(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    private static String describe(int[][] shapes) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shapes.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(java.util.Arrays.toString(shapes[i]));
        }
        return sb.append(']').toString();
    }

    /** Detector outputs: raw boxes (1, N, C) and raw scores (1, N, 1). */
    public static final class Detector {
        public final int inputSize;
        public final int boxesIndex;
        public final int scoresIndex;
        public final int numCoords;
        public final int numKeypoints;

        Detector(int inputSize, int boxesIndex, int scoresIndex, int numCoords) {
            this.inputSize = inputSize;
            this.boxesIndex = boxesIndex;
            this.scoresIndex = scoresIndex;
            this.numCoords = numCoords;
            this.numKeypoints = (numCoords - 4) / 2;
        }
    }

    /**
     * Find the detector's outputs for {@code numAnchors} anchors.
     *
     * @throws IllegalArgumentException when the model does not take one square (1, S, S, 3) image or
     *     its outputs do not match the anchors x (12+ coords, 1 score)
     */
    public static Detector detector(int[][] inputShapes, int[][] outputShapes, int numAnchors) {
        if (inputShapes.length != 1 || inputShapes[0].length != 4 || inputShapes[0][1] != inputShapes[0][2]) {
            throw new IllegalArgumentException("detector must take one square (1, S, S, 3) image, got "
                    + describe(inputShapes));
        }
        int boxes = -1;
        int scores = -1;
        for (int i = 0; i < outputShapes.length; i++) {
            int[] s = outputShapes[i];
            if (s.length == 3 && s[1] == numAnchors) {
                if (s[2] == 1) {
                    scores = i;
                } else if (s[2] >= 12) {
                    boxes = i;
                }
            }
        }
        if (boxes < 0 || scores < 0) {
            throw new IllegalArgumentException("detector outputs " + describe(outputShapes) + " do not match "
                    + numAnchors + " anchors x (12 coords, 1 score)");
        }
        int[] boxShape = outputShapes[boxes];
        return new Detector(inputShapes[0][1], boxes, scores, boxShape[boxShape.length - 1]);
    }

    /** Landmark-model outputs; -1 for an output the model does not have. */
    public static final class Landmark {
        public final int inputSize;
        public final int landmarksIndex;
        public final int presenceIndex;
        public final int heatmapIndex;
        public final int worldIndex;
        public final int numRows;

        Landmark(int inputSize, int landmarksIndex, int presenceIndex, int heatmapIndex, int worldIndex, int numRows) {
            this.inputSize = inputSize;
            this.landmarksIndex = landmarksIndex;
            this.presenceIndex = presenceIndex;
            this.heatmapIndex = heatmapIndex;
            this.worldIndex = worldIndex;
            this.numRows = numRows;
        }
    }

    /**
     * Find the landmark model's outputs: (1, R*5) landmarks, (1, 1) presence, optional
     * (1, h, w, R) heatmap (smaller than the input) and (1, R*3) world landmarks.
     *
     * @throws IllegalArgumentException when the model does not take one (1, S, S, 3) image or lacks
     *     landmarks with R >= 35 rows or a presence output
     */
    public static Landmark landmark(int[][] inputShapes, int[][] outputShapes) {
        if (inputShapes.length != 1 || inputShapes[0].length != 4 || inputShapes[0][1] != inputShapes[0][2]
                || inputShapes[0][3] != 3) {
            throw new IllegalArgumentException("landmark model must take one (1, S, S, 3) image, got "
                    + describe(inputShapes));
        }
        int inputSize = inputShapes[0][1];
        int[] sizes = new int[outputShapes.length];
        for (int i = 0; i < outputShapes.length; i++) {
            sizes[i] = product(outputShapes[i]);
        }
        int heatmap = -1;
        for (int i = 0; i < outputShapes.length; i++) {
            if (outputShapes[i].length == 4 && outputShapes[i][1] < inputSize) {
                heatmap = i;
                break;
            }
        }
        int rows = 0;
        if (heatmap >= 0) {
            rows = outputShapes[heatmap][3];
        } else { // no heatmap: the landmark tensor is the largest multiple of 5 that is 2-D
            for (int i = 0; i < outputShapes.length; i++) {
                if (outputShapes[i].length == 2 && sizes[i] % 5 == 0 && sizes[i] > 5) {
                    rows = Math.max(rows, sizes[i] / 5);
                }
            }
        }
        int landmarks = -1;
        int presence = -1;
        int world = -1;
        for (int i = 0; i < outputShapes.length; i++) {
            boolean twoD = outputShapes[i].length == 2;
            if (landmarks < 0 && rows > 0 && sizes[i] == rows * 5 && twoD) {
                landmarks = i;
            }
            if (presence < 0 && sizes[i] == 1) {
                presence = i;
            }
            if (world < 0 && rows > 0 && sizes[i] == rows * 3 && twoD) {
                world = i;
            }
        }
        if (landmarks < 0 || presence < 0 || rows < Topology.NUM_LANDMARKS + 2) {
            throw new IllegalArgumentException("landmark model outputs " + describe(outputShapes)
                    + ": need (1, R*5) landmarks with R >= " + (Topology.NUM_LANDMARKS + 2) + " and a (1, 1) presence");
        }
        return new Landmark(inputSize, landmarks, presence, heatmap, world, rows);
    }
}
