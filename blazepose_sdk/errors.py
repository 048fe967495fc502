"""One exception hierarchy for everything the SDK refuses.

Callers can catch :class:`BlazePoseError` for any SDK failure, or a subclass for a
specific kind. Every subclass also derives from the closest builtin (``ValueError``,
``FileNotFoundError``, ``RuntimeError``) so generic handlers keep working.
"""

from __future__ import annotations


class BlazePoseError(Exception):
    """Base class of every error raised on purpose by blazepose_sdk."""


class InvalidFrameError(BlazePoseError, ValueError):
    """A frame is not an image we can run on (None, empty, wrong dtype, NaN, ...)."""


class OptionError(BlazePoseError, ValueError):
    """An option (TrackerOptions field or command-line flag) has a value outside its range."""


class TimestampError(InvalidFrameError):
    """A video frame's timestamp goes backwards (or is not finite); the tracker's state is unchanged."""


class UnknownLandmarkError(BlazePoseError, ValueError):
    """A landmark name that BlazePose's 33-point topology does not have."""


class ConcurrentUseError(BlazePoseError, RuntimeError):
    """One PoseTracker was called from two threads at once: use one tracker per thread."""


class ModelError(BlazePoseError):
    """A model file or model name cannot be used."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """A model file or a named model is missing (e.g. reference models not fetched yet)."""


class ModelHashMismatchError(ModelError, ValueError):
    """A model file's sha256 differs from the one recorded in the manifest."""


class ManifestError(ModelError, ValueError):
    """A model's manifest.json is unreadable, of another format, or malformed."""


class ModelLoadError(ModelError, RuntimeError):
    """The TFLite runtime could not load a model file (corrupt, wrong format, bad delegate)."""


class ModelSignatureError(ModelError, ValueError):
    """A model loads but its inputs/outputs do not match what the stage expects."""


class RuntimeUnavailableError(BlazePoseError, ImportError):
    """No TFLite runtime (ai-edge-litert, tflite-runtime or tensorflow) is installed."""


class VideoError(BlazePoseError, IOError):
    """A video file, image file or camera cannot be opened, read or written."""


class FetchError(BlazePoseError, RuntimeError):
    """Fetching the reference models failed (npm missing, offline with an empty cache, ...)."""
