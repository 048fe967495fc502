package dev.blazepose.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Paint
import android.graphics.Path
import android.util.AttributeSet
import android.view.View
import androidx.core.content.ContextCompat
import dev.blazepose.core.PoseResult
import dev.blazepose.core.Topology
import kotlin.math.max

/**
 * Draws the tracked skeleton and its ROI over the camera preview.
 *
 * Landmarks arrive in pixels of the upright analysis frame; the preview shows the same field of
 * view scaled to fill the view and centred (PreviewView's FILL_CENTER), mirrored for the front
 * camera, so points are mapped the same way.
 */
class PoseOverlayView @JvmOverloads constructor(
    context: Context,
    attrs: AttributeSet? = null,
) : View(context, attrs) {
    private var result: PoseResult? = null
    private var imageWidth = 1
    private var imageHeight = 1
    private var mirrored = false

    private val density = resources.displayMetrics.density
    private val sidePaints = mapOf(
        Side.LEFT to strokePaint(R.color.skeleton_left),
        Side.RIGHT to strokePaint(R.color.skeleton_right),
        Side.CENTER to strokePaint(R.color.skeleton_center),
    )
    private val pointPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = ContextCompat.getColor(context, R.color.skeleton_center)
        style = Paint.Style.FILL
    }
    private val roiPaint = strokePaint(R.color.roi).apply { strokeWidth = 2f * density }
    private val roiPath = Path()
    private val sides = Topology.LANDMARK_NAMES.map { name ->
        when {
            name.startsWith("left_") || name.endsWith("_left") -> Side.LEFT
            name.startsWith("right_") || name.endsWith("_right") -> Side.RIGHT
            else -> Side.CENTER
        }
    }

    private enum class Side { LEFT, RIGHT, CENTER }

    private fun strokePaint(colorRes: Int) = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = ContextCompat.getColor(context, colorRes)
        style = Paint.Style.STROKE
        strokeWidth = 4f * density
        strokeCap = Paint.Cap.ROUND
    }

    /** Show [result] of a [width] x [height] upright frame; [mirror] for the front camera. */
    fun update(result: PoseResult?, width: Int, height: Int, mirror: Boolean) {
        this.result = result
        imageWidth = width.coerceAtLeast(1)
        imageHeight = height.coerceAtLeast(1)
        mirrored = mirror
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val pose = result?.pose ?: return
        val scale = max(width / imageWidth.toFloat(), height / imageHeight.toFloat())
        val dx = (width - imageWidth * scale) / 2f
        val dy = (height - imageHeight * scale) / 2f
        fun vx(x: Double): Float {
            val v = dx + x.toFloat() * scale
            return if (mirrored) width - v else v
        }
        fun vy(y: Double): Float = dy + y.toFloat() * scale

        roiPath.reset()
        pose.roi.cornersPx().forEachIndexed { i, c ->
            if (i == 0) roiPath.moveTo(vx(c[0]), vy(c[1])) else roiPath.lineTo(vx(c[0]), vy(c[1]))
        }
        roiPath.close()
        canvas.drawPath(roiPath, roiPaint)

        val lm = pose.landmarksPx
        for (edge in Topology.SKELETON_EDGES) {
            val a = lm[edge[0]]
            val b = lm[edge[1]]
            if (a[3] < MIN_VISIBILITY || b[3] < MIN_VISIBILITY) continue
            val side = if (sides[edge[0]] == sides[edge[1]]) sides[edge[0]] else Side.CENTER
            canvas.drawLine(vx(a[0]), vy(a[1]), vx(b[0]), vy(b[1]), sidePaints.getValue(side))
        }
        val radius = 3.5f * density
        for (row in lm) {
            if (row[3] >= MIN_VISIBILITY) canvas.drawCircle(vx(row[0]), vy(row[1]), radius, pointPaint)
        }
    }

    companion object {
        /** Landmarks less likely to be visible than this are not drawn (MediaPipe's drawing default). */
        const val MIN_VISIBILITY = 0.5
    }
}
