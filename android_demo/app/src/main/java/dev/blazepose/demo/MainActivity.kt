package dev.blazepose.demo

import android.Manifest
import android.content.pm.PackageManager
import android.os.Bundle
import android.util.Log
import android.util.Size
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.core.content.ContextCompat
import androidx.core.view.ViewCompat
import androidx.core.view.WindowInsetsCompat
import androidx.core.view.updatePadding
import dev.blazepose.demo.databinding.ActivityMainBinding
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Camera preview with the pose skeleton drawn over it, plus fps and how often the detector ran
 * (it runs only when tracking is lost). The GPU switch rebuilds the interpreters with the GPU
 * delegate; the camera button flips between the back and front cameras.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var binding: ActivityMainBinding
    private lateinit var analysisExecutor: ExecutorService
    private var cameraProvider: ProcessCameraProvider? = null
    private var lensFacing = CameraSelector.LENS_FACING_BACK

    /** Owned by the analysis thread: created, used and closed there only. */
    private var pipeline: PosePipeline? = null

    private val requestCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else binding.stats.setText(R.string.camera_permission_denied)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        enableEdgeToEdge()
        binding = ActivityMainBinding.inflate(layoutInflater)
        setContentView(binding.root)
        ViewCompat.setOnApplyWindowInsetsListener(binding.root) { view, insets ->
            val bars = insets.getInsets(WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout())
            view.updatePadding(left = bars.left, top = bars.top, right = bars.right, bottom = bars.bottom)
            insets
        }
        analysisExecutor = Executors.newSingleThreadExecutor()

        binding.gpuSwitch.setOnCheckedChangeListener { _, useGpu -> buildPipeline(useGpu) }
        binding.switchCamera.setOnClickListener {
            lensFacing = if (lensFacing == CameraSelector.LENS_FACING_BACK) {
                CameraSelector.LENS_FACING_FRONT
            } else {
                CameraSelector.LENS_FACING_BACK
            }
            // A new camera is a new, unrelated stream: forget the tracked ROI and filter state.
            analysisExecutor.execute { pipeline?.tracker?.reset() }
            bindCamera()
        }

        val missing = PosePipeline.missingAssets(this, PosePipeline.Config())
        if (missing.isNotEmpty()) {
            binding.stats.text = getString(R.string.models_missing, missing.joinToString())
            binding.gpuSwitch.isEnabled = false
            binding.switchCamera.isEnabled = false
            return
        }
        buildPipeline(binding.gpuSwitch.isChecked)
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            requestCamera.launch(Manifest.permission.CAMERA)
        }
    }

    /** (Re)create the interpreters on the analysis thread, so no frame sees a half-built pipeline. */
    private fun buildPipeline(useGpu: Boolean) {
        val config = PosePipeline.Config(useGpu = useGpu)
        analysisExecutor.execute {
            pipeline?.close()
            pipeline = null
            pipeline = try {
                PosePipeline(applicationContext, config)
            } catch (e: Exception) {
                Log.e(TAG, "pipeline failed", e)
                runOnUiThread { binding.stats.text = getString(R.string.pipeline_failed, e.message ?: e.toString()) }
                null
            }
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            cameraProvider = future.get()
            bindCamera()
        }, ContextCompat.getMainExecutor(this))
    }

    private fun bindCamera() {
        val provider = cameraProvider ?: return
        // Preview and analysis share a 4:3 field of view, so the overlay can map analysis pixels
        // onto the preview; analysis frames near 640x480 are plenty for 224/256-px model inputs.
        val aspect = AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY
        val preview = Preview.Builder()
            .setResolutionSelector(ResolutionSelector.Builder().setAspectRatioStrategy(aspect).build())
            .build()
            .also { it.setSurfaceProvider(binding.preview.surfaceProvider) }
        val analysis = ImageAnalysis.Builder()
            .setResolutionSelector(
                ResolutionSelector.Builder()
                    .setAspectRatioStrategy(aspect)
                    .setResolutionStrategy(
                        ResolutionStrategy(
                            ANALYSIS_SIZE,
                            ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER,
                        ),
                    )
                    .build(),
            )
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
            .build()
        val mirror = lensFacing == CameraSelector.LENS_FACING_FRONT
        analysis.setAnalyzer(analysisExecutor, PoseAnalyzer({ pipeline }) { report -> show(report, mirror) })
        val selector = CameraSelector.Builder().requireLensFacing(lensFacing).build()
        try {
            provider.unbindAll()
            provider.bindToLifecycle(this, selector, preview, analysis)
        } catch (e: IllegalArgumentException) {
            Log.e(TAG, "no camera for lens facing $lensFacing", e)
            binding.stats.text = getString(R.string.pipeline_failed, e.message ?: e.toString())
        }
    }

    private fun show(report: FrameReport, mirror: Boolean) {
        runOnUiThread {
            binding.overlay.update(report.result, report.imageWidth, report.imageHeight, mirror)
            val threads = PosePipeline.DEFAULT_THREADS
            val backend = when {
                report.onGpu -> getString(R.string.backend_gpu)
                binding.gpuSwitch.isChecked -> getString(R.string.backend_gpu_unavailable, threads)
                else -> getString(R.string.backend_cpu, threads)
            }
            val line = getString(
                R.string.stats_format, report.fps, report.msPerFrame, report.detectorRuns, report.frames, backend,
            )
            binding.stats.text = if (report.result.pose == null) "$line · ${getString(R.string.no_pose)}" else line
        }
    }

    override fun onDestroy() {
        super.onDestroy()
        cameraProvider?.unbindAll()
        analysisExecutor.execute {
            pipeline?.close()
            pipeline = null
        }
        analysisExecutor.shutdown()
    }

    companion object {
        private const val TAG = "BlazePoseDemo"
        private val ANALYSIS_SIZE = Size(640, 480)
    }
}
