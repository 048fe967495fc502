package dev.blazepose.demo

import android.content.Context
import dev.blazepose.core.PoseResult
import dev.blazepose.core.PoseTracker
import dev.blazepose.core.RgbImage
import dev.blazepose.core.TrackerOptions
import java.io.Closeable

/**
 * The detector and landmark models from assets behind the core module's [PoseTracker], which
 * re-runs the detector only when the tracked ROI loses the person.
 */
class PosePipeline(context: Context, val config: Config) : Closeable {
    /**
     * @property detectorAsset, landmarkAsset file names in app/src/main/assets
     * @property useGpu try the GPU delegate (falls back to XNNPACK where unsupported)
     * @property numThreads XNNPACK threads per interpreter
     */
    data class Config(
        val detectorAsset: String = DETECTOR_ASSET,
        val landmarkAsset: String = LANDMARK_ASSET,
        val useGpu: Boolean = false,
        val numThreads: Int = DEFAULT_THREADS,
        val tracker: TrackerOptions = TrackerOptions.builder().build(),
    )

    private val detectorModel = TfliteModel(context, config.detectorAsset, config.useGpu, config.numThreads)
    private val landmarkModel = try {
        TfliteModel(context, config.landmarkAsset, config.useGpu, config.numThreads)
    } catch (e: Exception) {
        detectorModel.close()
        throw e
    }
    val tracker = PoseTracker(
        TfliteDetector(detectorModel, config.tracker.minDetectionConfidence.toFloat()),
        TfliteLandmarker(landmarkModel),
        config.tracker,
    )

    /** True when both models run on the GPU delegate. */
    val onGpu: Boolean get() = detectorModel.onGpu && landmarkModel.onGpu

    /** Track the pose in one upright frame taken at [timestampMs]. */
    fun process(frame: RgbImage, timestampMs: Double): PoseResult =
        tracker.process(frame, frame.width, frame.height, timestampMs)

    override fun close() {
        detectorModel.close()
        landmarkModel.close()
    }

    companion object {
        const val DETECTOR_ASSET = "pose_detection.tflite"
        const val LANDMARK_ASSET = "pose_landmark_full.tflite"
        const val DEFAULT_THREADS = 4

        /** The configured model files that are not in the app's assets. */
        fun missingAssets(context: Context, config: Config): List<String> {
            val present = context.assets.list("")?.toSet().orEmpty()
            return listOf(config.detectorAsset, config.landmarkAsset).filterNot { it in present }
        }
    }
}
