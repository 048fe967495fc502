package dev.blazepose.core;

/** What {@link PoseTracker#process} found in one frame; port of {@code blazepose_sdk.results.PoseResult}. */
public final class PoseResult {
    public final int frameIndex;
    public final double timestampMs;
    public final int imageWidth;
    public final int imageHeight;
    /** The pose, or null when none was found. */
    public final Pose pose;
    /** The detection the detector found this frame, or null (not run, or found nobody). */
    public final Detection detection;
    /** Whether the detector ran on this frame. */
    public final boolean detectorRan;
    /** Whether the pose came from the previous frame's ROI (no detector needed). */
    public final boolean tracked;

    public PoseResult(int frameIndex, double timestampMs, int imageWidth, int imageHeight, Pose pose,
                      Detection detection, boolean detectorRan, boolean tracked) {
        this.frameIndex = frameIndex;
        this.timestampMs = timestampMs;
        this.imageWidth = imageWidth;
        this.imageHeight = imageHeight;
        this.pose = pose;
        this.detection = detection;
        this.detectorRan = detectorRan;
        this.tracked = tracked;
    }
}
