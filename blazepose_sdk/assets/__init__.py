"""Model files: the shipped and reference pipelines (models), their hash-checked fetch into the
user cache (fetch) and the manifest beside exported .tflite files (manifest)."""
