// The pipeline logic (anchors, decoding, NMS, ROI geometry, crops, smoothing, tracking) as a plain
// Java library with no Android dependency. Its JUnit tests read the golden vectors that the Python
// SDK writes (src/test/resources/golden.json). Outside Gradle, run_tests.sh builds and tests it
// with javac and Debian's junit4/gson jars.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    testImplementation(libs.junit)
    testImplementation(libs.gson)
}

tasks.withType<JavaCompile>().configureEach {
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
    options.encoding = "UTF-8"
}

tasks.test {
    // Point at a freshly generated file with -Pgolden=/path/golden.json; else the committed copy.
    project.findProperty("golden")?.let { systemProperty("golden.path", it.toString()) }
    exclude("**/RunAll*")
}
