package dev.blazepose.demo

import android.content.Context
import android.util.Log
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate

/**
 * One .tflite model from the app's assets in a LiteRT [Interpreter]: XNNPACK on [numThreads] CPU
 * threads, or the GPU delegate when [useGpu] is set and the device supports it (else CPU).
 *
 * The app's only interpreter owner, like runtime.py in the Python SDK. Float32 models only (the
 * official BlazePose models are float32). Not thread-safe: use it from one thread.
 */
class TfliteModel(
    context: Context,
    val assetName: String,
    useGpu: Boolean,
    numThreads: Int,
) : Closeable {
    private val gpuDelegate: GpuDelegate?
    private val interpreter: Interpreter

    /** True when the GPU delegate runs this model. */
    val onGpu: Boolean

    /** Input and output shapes, batch first, as the interpreter reports them. */
    val inputShapes: Array<IntArray>
    val outputShapes: Array<IntArray>

    init {
        val model = mapAsset(context, assetName)
        var delegate: GpuDelegate? = null
        if (useGpu) {
            val compatibility = CompatibilityList()
            try {
                if (compatibility.isDelegateSupportedOnThisDevice) {
                    delegate = GpuDelegate(compatibility.bestOptionsForThisDevice)
                }
            } finally {
                compatibility.close()
            }
        }
        var built: Interpreter
        try {
            built = Interpreter(model, options(numThreads, delegate))
        } catch (e: RuntimeException) {
            if (delegate == null) throw e
            // The delegate refused the graph: fall back to the CPU rather than fail.
            Log.w(TAG, "GPU delegate failed for $assetName, using the CPU", e)
            delegate.close()
            delegate = null
            built = Interpreter(model, options(numThreads, null))
        }
        interpreter = built
        gpuDelegate = delegate
        onGpu = delegate != null
        inputShapes = Array(interpreter.inputTensorCount) { interpreter.getInputTensor(it).shape() }
        outputShapes = Array(interpreter.outputTensorCount) { interpreter.getOutputTensor(it).shape() }
        for (i in 0 until interpreter.inputTensorCount) {
            require(interpreter.getInputTensor(i).dataType() == DataType.FLOAT32) {
                "$assetName: input $i is ${interpreter.getInputTensor(i).dataType()}; this demo runs float32 models"
            }
        }
    }

    /** A direct float buffer the size of output [index], for [run]. */
    fun outputBuffer(index: Int): FloatBuffer = floatBuffer(outputShapes[index].fold(1) { a, b -> a * b })

    /**
     * Run the model on [input] (the first input, in NHWC order) and fill [outputs], a map from output
     * index to a buffer from [outputBuffer]; outputs left out of the map are not copied.
     */
    fun run(input: FloatBuffer, outputs: Map<Int, FloatBuffer>) {
        input.rewind()
        outputs.values.forEach { it.rewind() }
        interpreter.runForMultipleInputsOutputs(arrayOf<Any>(input), outputs)
        outputs.values.forEach { it.rewind() }
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    companion object {
        private const val TAG = "TfliteModel"

        private fun options(numThreads: Int, delegate: GpuDelegate?) = Interpreter.Options().apply {
            setNumThreads(numThreads)
            setUseXNNPACK(true)
            if (delegate != null) addDelegate(delegate)
        }

        /** Memory-map an asset (stored uncompressed: see noCompress in app/build.gradle.kts). */
        fun mapAsset(context: Context, name: String): MappedByteBuffer =
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).use { stream ->
                    stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }

        fun floatBuffer(size: Int): FloatBuffer =
            ByteBuffer.allocateDirect(size * 4).order(ByteOrder.nativeOrder()).asFloatBuffer()
    }
}
