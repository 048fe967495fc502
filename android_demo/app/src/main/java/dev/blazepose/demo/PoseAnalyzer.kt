package dev.blazepose.demo

import android.os.SystemClock
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import dev.blazepose.core.PoseResult
import dev.blazepose.core.RgbImage

/** What the UI shows for one analysed frame. */
data class FrameReport(
    val result: PoseResult,
    val imageWidth: Int,
    val imageHeight: Int,
    val fps: Double,
    val msPerFrame: Double,
    val detectorRuns: Int,
    val frames: Int,
    val onGpu: Boolean,
)

/**
 * CameraX analyzer: turns each frame upright, runs the pose pipeline on it and reports the result
 * with fps and detector-run counts. Runs on the analysis executor, the only thread that touches
 * the pipeline.
 */
class PoseAnalyzer(
    private val pipeline: () -> PosePipeline?,
    private val onFrame: (FrameReport) -> Unit,
) : ImageAnalysis.Analyzer {
    private val fps = RateMeter()
    private var pixels = IntArray(0)

    override fun analyze(image: ImageProxy) {
        image.use { proxy ->
            val current = pipeline() ?: return
            val frame = toUprightFrame(proxy)
            val start = SystemClock.elapsedRealtimeNanos()
            // Sensor timestamps are monotonic nanoseconds: what the One-Euro filters need.
            val result = current.process(frame, proxy.imageInfo.timestamp / 1e6)
            val elapsedMs = (SystemClock.elapsedRealtimeNanos() - start) / 1e6
            fps.tick(start, elapsedMs)
            onFrame(
                FrameReport(
                    result, frame.width, frame.height, fps.perSecond, fps.meanMs,
                    current.tracker.detectorRuns(), current.tracker.framesProcessed(), current.onGpu,
                ),
            )
        }
    }

    /** RGBA_8888 analysis frame to an upright [RgbImage] (the sensor is usually turned 90 degrees). */
    private fun toUprightFrame(proxy: ImageProxy): RgbImage {
        val bitmap = proxy.toBitmap()
        try {
            val n = bitmap.width * bitmap.height
            if (pixels.size != n) pixels = IntArray(n)
            bitmap.getPixels(pixels, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
            return RgbImage(bitmap.width, bitmap.height, pixels).rotatedClockwise(proxy.imageInfo.rotationDegrees)
        } finally {
            bitmap.recycle()
        }
    }

    /** Frame rate and processing time, smoothed exponentially. */
    private class RateMeter {
        var perSecond = 0.0
            private set
        var meanMs = 0.0
            private set
        private var lastNanos = 0L

        fun tick(nowNanos: Long, elapsedMs: Double) {
            if (lastNanos != 0L) {
                val rate = 1e9 / (nowNanos - lastNanos).coerceAtLeast(1L)
                perSecond = if (perSecond == 0.0) rate else perSecond + SMOOTHING * (rate - perSecond)
            }
            meanMs = if (meanMs == 0.0) elapsedMs else meanMs + SMOOTHING * (elapsedMs - meanMs)
            lastNanos = nowNanos
        }

        companion object {
            /** Weight of the newest sample: about the last ten frames count. */
            const val SMOOTHING = 0.1
        }
    }
}
