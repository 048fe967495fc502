package dev.blazepose.core;

import java.util.ArrayList;
import java.util.List;
import org.junit.internal.TextListener;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;

/**
 * Command-line entry of run_tests.sh: runs the named test classes with JUnit 4, prints JUnit's
 * report and a one-line count, and exits non-zero when a test failed or none ran.
 */
public final class RunAll {
    private RunAll() {}

    public static void main(String[] args) throws ClassNotFoundException {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : args) {
            classes.add(Class.forName(name));
        }
        JUnitCore core = new JUnitCore();
        core.addListener(new TextListener(System.out));
        Result result = core.run(classes.toArray(new Class<?>[0]));
        int failed = result.getFailureCount();
        int skipped = result.getIgnoreCount() + result.getAssumptionFailureCount();
        int passed = result.getRunCount() - failed - result.getAssumptionFailureCount();
        System.out.println("jvm-core: " + passed + " passed, " + failed + " failed, " + skipped + " skipped");
        System.exit(failed == 0 && result.getRunCount() > 0 ? 0 : 1);
    }
}
