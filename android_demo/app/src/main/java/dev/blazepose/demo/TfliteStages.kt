package dev.blazepose.demo

import dev.blazepose.core.AnchorOptions
import dev.blazepose.core.Anchors
import dev.blazepose.core.Detection
import dev.blazepose.core.DetectorPostprocessor
import dev.blazepose.core.ImageCrop
import dev.blazepose.core.LandmarkPostprocessor
import dev.blazepose.core.LandmarkerOutput
import dev.blazepose.core.ModelSignature
import dev.blazepose.core.PoseTracker
import dev.blazepose.core.RgbImage
import dev.blazepose.core.Roi

/**
 * Stage 1 on a LiteRT interpreter: the whole frame letterboxed into the detector, raw tensors
 * decoded by the core module (the code the golden-vector tests check against the Python SDK).
 */
class TfliteDetector(
    private val model: TfliteModel,
    minScore: Float,
) : PoseTracker.Detector<RgbImage> {
    private val inputSize = model.inputShapes[0][1]
    private val signature = ModelSignature.detector(
        model.inputShapes,
        model.outputShapes,
        Anchors.generate(AnchorOptions.poseDetector(inputSize)).size,
    )
    private val post = DetectorPostprocessor(inputSize, signature.numCoords, minScore)
    private val tensor = FloatArray(inputSize * inputSize * 3)
    private val input = TfliteModel.floatBuffer(tensor.size)
    private val boxesBuffer = model.outputBuffer(signature.boxesIndex)
    private val scoresBuffer = model.outputBuffer(signature.scoresIndex)
    private val outputs = mapOf(signature.boxesIndex to boxesBuffer, signature.scoresIndex to scoresBuffer)
    private val rawBoxes = FloatArray(boxesBuffer.capacity())
    private val rawScores = FloatArray(scoresBuffer.capacity())

    override fun detect(frame: RgbImage): List<Detection> {
        val roi = DetectorPostprocessor.frameRoi(frame.width, frame.height)
        ImageCrop.cropToTensor(
            frame, roi, inputSize, DetectorPostprocessor.VALUE_MIN, DetectorPostprocessor.VALUE_MAX,
            ImageCrop.Border.ZERO, tensor,
        )
        input.rewind()
        input.put(tensor)
        model.run(input, outputs)
        boxesBuffer.get(rawBoxes)
        scoresBuffer.get(rawScores)
        return post.decode(rawBoxes, rawScores, frame.width, frame.height)
    }
}

/**
 * Stage 2 on a LiteRT interpreter: the rotated ROI cropped into the landmark model, outputs
 * decoded, refined with the heatmap and projected back to the image by the core module.
 */
class TfliteLandmarker(
    private val model: TfliteModel,
    refineWithHeatmap: Boolean = true,
) : PoseTracker.Landmarker<RgbImage> {
    private val signature = ModelSignature.landmark(model.inputShapes, model.outputShapes)
    private val inputSize = signature.inputSize
    private val post = LandmarkPostprocessor(inputSize, signature.numRows, refineWithHeatmap)
    private val tensor = FloatArray(inputSize * inputSize * 3)
    private val input = TfliteModel.floatBuffer(tensor.size)
    private val buffers = buildMap {
        put(signature.landmarksIndex, model.outputBuffer(signature.landmarksIndex))
        put(signature.presenceIndex, model.outputBuffer(signature.presenceIndex))
        if (signature.heatmapIndex >= 0 && refineWithHeatmap) {
            put(signature.heatmapIndex, model.outputBuffer(signature.heatmapIndex))
        }
        if (signature.worldIndex >= 0) put(signature.worldIndex, model.outputBuffer(signature.worldIndex))
    }
    private val raw = FloatArray(buffers.getValue(signature.landmarksIndex).capacity())
    private val heatmap = buffers[signature.heatmapIndex]?.let { FloatArray(it.capacity()) }
    private val heatmapShape = if (signature.heatmapIndex >= 0) model.outputShapes[signature.heatmapIndex] else null
    private val world = buffers[signature.worldIndex]?.let { FloatArray(it.capacity()) }

    override fun landmarks(frame: RgbImage, roi: Roi): LandmarkerOutput {
        ImageCrop.cropToTensor(
            frame, roi, inputSize, LandmarkPostprocessor.VALUE_MIN, LandmarkPostprocessor.VALUE_MAX,
            ImageCrop.Border.REPLICATE, tensor,
        )
        input.rewind()
        input.put(tensor)
        model.run(input, buffers)
        buffers.getValue(signature.landmarksIndex).get(raw)
        val presence = buffers.getValue(signature.presenceIndex).get(0)
        heatmap?.let { buffers.getValue(signature.heatmapIndex).get(it) }
        world?.let { buffers.getValue(signature.worldIndex).get(it) }
        return post.decode(
            raw, presence, heatmap, heatmapShape?.get(1) ?: 0, heatmapShape?.get(2) ?: 0, world, roi,
        )
    }
}
