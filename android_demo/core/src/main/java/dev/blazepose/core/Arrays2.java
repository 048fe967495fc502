package dev.blazepose.core;

/** Small helpers for row-major double matrices. */
final class Arrays2 {
    private Arrays2() {}

    static double[][] copy(double[][] a) {
        double[][] out = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i].clone();
        }
        return out;
    }

    static double[] flatten(double[][] a) {
        int n = 0;
        for (double[] row : a) {
            n += row.length;
        }
        double[] out = new double[n];
        int k = 0;
        for (double[] row : a) {
            System.arraycopy(row, 0, out, k, row.length);
            k += row.length;
        }
        return out;
    }

    static double[][] reshape(double[] flat, int rows, int cols) {
        if (flat.length != rows * cols) {
            throw new IllegalArgumentException(flat.length + " values do not make " + rows + " x " + cols);
        }
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * cols, out[i], 0, cols);
        }
        return out;
    }
}
