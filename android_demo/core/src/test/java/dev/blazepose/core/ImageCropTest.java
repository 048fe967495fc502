package dev.blazepose.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import org.junit.Test;

public class ImageCropTest {
    @Test
    public void cropsMatchOpenCvWarpAffineWithinOneGreyLevel() {
        JsonObject g = Golden.section("crop");
        JsonObject img = g.getAsJsonObject("image");
        RgbImage image = RgbImage.fromRgbBytes(img.get("width").getAsInt(), img.get("height").getAsInt(),
                Golden.ints(img.get("rgb")));
        double levels = g.get("tolerance_grey_levels").getAsDouble();
        int cases = 0;
        for (JsonElement e : g.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            int n = c.get("tensor_size").getAsInt();
            double[] range = Golden.doubles(c.get("value_range"));
            ImageCrop.Border border = "zero".equals(c.get("border").getAsString())
                    ? ImageCrop.Border.ZERO : ImageCrop.Border.REPLICATE;
            float[] out = new float[n * n * 3];
            ImageCrop.cropToTensor(image, Golden.roi(c.get("roi")), n, (float) range[0], (float) range[1], border, out);
            double[] expected = Golden.doubles(c.get("tensor"));
            double level = (range[1] - range[0]) / 255.0;
            double worst = 0;
            double sum = 0;
            for (int i = 0; i < expected.length; i++) {
                double d = Math.abs(expected[i] - out[i]);
                worst = Math.max(worst, d);
                sum += d;
            }
            String what = "crop " + cases + " (" + border + ", " + n + "x" + n + ")";
            assertTrue(what + ": worst difference " + worst / level + " grey levels", worst <= levels * level + 1e-6);
            // almost every value must agree exactly: a systematic offset (half-pixel shift, wrong
            // channel order) moves most of them
            assertTrue(what + ": mean difference " + sum / expected.length / level + " grey levels",
                    sum / expected.length <= 0.1 * level);
            cases++;
        }
        assertTrue("golden crop cases present", cases >= 3);
    }

    @Test
    public void rotationsPermutePixels() {
        // 3x2 image, pixel value = its index
        RgbImage image = new RgbImage(3, 2, new int[] {0, 1, 2, 3, 4, 5});
        RgbImage cw = image.rotatedClockwise(90);
        assertEquals(2, cw.width);
        assertEquals(3, cw.height);
        assertArrayEquals(new int[] {3, 0, 4, 1, 5, 2}, cw.argb);
        assertArrayEquals(new int[] {5, 4, 3, 2, 1, 0}, image.rotatedClockwise(180).argb);
        assertArrayEquals(new int[] {2, 5, 1, 4, 0, 3}, image.rotatedClockwise(270).argb);
        assertArrayEquals(image.argb, image.rotatedClockwise(90).rotatedClockwise(270).argb);
    }

    @Test
    public void identityCropCopiesPixels() {
        int[] rgb = new int[4 * 4 * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (i * 37) % 256;
        }
        RgbImage image = RgbImage.fromRgbBytes(4, 4, rgb);
        float[] out = new float[4 * 4 * 3];
        ImageCrop.cropToTensor(image, new Roi(2.0, 2.0, 4.0, 0.0), 4, 0f, 255f, ImageCrop.Border.ZERO, out);
        for (int i = 0; i < rgb.length; i++) {
            assertEquals("value " + i, rgb[i], out[i], 1e-4);
        }
    }
}
