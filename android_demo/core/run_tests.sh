#!/usr/bin/env bash
# Build and test the JVM core module with javac + JUnit 4 (no Gradle, no network).
#
# 1. Regenerates the golden vectors from the current Python SDK
#    (python tools/golden.py; needs the reference models and ../shared/data).
# 2. Compiles src/main/java and src/test/java with javac (--release 11, warnings are errors).
# 3. Runs every *Test class against the regenerated vectors and prints JUnit's report.
#
# Exits non-zero when a step or a test fails.
#
# Needs: a JDK (javac, java >= 11) and Debian's junit4 and libgoogle-gson-java packages
#   apt-get install -y default-jdk-headless junit4 libgoogle-gson-java
# Environment:
#   GOLDEN=committed   test against the committed src/test/resources/golden.json instead of
#                      regenerating it (for machines without Python or the reference models)
#   PYTHON             Python interpreter with blazepose_sdk installed (default: python3, or python)
#   JAVA_LIBS          folder holding junit4.jar, hamcrest.jar and gson.jar (default /usr/share/java)
#   BUILD_DIR          scratch folder (default: android_demo/core/build/javac)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="${BUILD_DIR:-$HERE/build/javac}"
LIBS="${JAVA_LIBS:-/usr/share/java}"
JUNIT_JAR="$LIBS/junit4.jar"
HAMCREST_JAR="$LIBS/hamcrest.jar"
GSON_JAR="$LIBS/gson.jar"
COMMITTED="$HERE/src/test/resources/golden.json"

start=$(date +%s)
for tool in javac java; do
    command -v "$tool" >/dev/null || { echo "run_tests.sh: $tool not found (apt-get install -y default-jdk-headless)" >&2; exit 2; }
done
for jar in "$JUNIT_JAR" "$HAMCREST_JAR" "$GSON_JAR"; do
    [ -f "$jar" ] || { echo "run_tests.sh: $jar not found (apt-get install -y junit4 libgoogle-gson-java)" >&2; exit 2; }
done

rm -rf "$BUILD"
mkdir -p "$BUILD/main" "$BUILD/test"

if [ "${GOLDEN:-}" = "committed" ]; then
    GOLDEN_JSON="$COMMITTED"
    echo "== golden vectors: committed copy $GOLDEN_JSON"
else
    PY="${PYTHON:-$(command -v python3 || command -v python)}"
    GOLDEN_JSON="$BUILD/golden.json"
    echo "== golden vectors: regenerating from the current SDK"
    (cd "$REPO" && "$PY" tools/golden.py --out "$GOLDEN_JSON")
fi

echo "== javac (main, test)"
find "$HERE/src/main/java" -name '*.java' > "$BUILD/main-sources.txt"
javac --release 11 -Xlint:all -Werror -encoding UTF-8 -d "$BUILD/main" @"$BUILD/main-sources.txt"
find "$HERE/src/test/java" -name '*.java' > "$BUILD/test-sources.txt"
javac --release 11 -Xlint:all -Werror -encoding UTF-8 -cp "$BUILD/main:$JUNIT_JAR:$GSON_JAR" \
    -d "$BUILD/test" @"$BUILD/test-sources.txt"

classes=$(cd "$HERE/src/test/java" && find . -name '*Test.java' | sed 's#^\./##; s#\.java$##; s#/#.#g' | sort)
echo "== junit ($(echo "$classes" | wc -l) classes)"
set +e
java -Dgolden.path="$GOLDEN_JSON" -cp "$BUILD/main:$BUILD/test:$JUNIT_JAR:$HAMCREST_JAR:$GSON_JAR" \
    dev.blazepose.core.RunAll $classes
status=$?
set -e
echo "== run_tests.sh finished in $(( $(date +%s) - start )) s (exit $status)"
exit $status
