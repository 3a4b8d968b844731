"""The errors featkit raises, as one tree.

Every error featkit raises on purpose derives from :class:`FeatkitError`, so
``except featkit.FeatkitError`` catches all of them and nothing else::

    FeatkitError
    ├── ConfigError (also ValueError)        a setting is out of range or inconsistent
    │   └── InsufficientDataError            the features cannot support the analysis asked for
    │                                        (no labels, one class, fewer videos than folds)
    ├── VideoError                           one video cannot be used
    │   ├── VideoOpenError                   the decoder cannot open it (not a video, corrupt, no stream)
    │   ├── VideoDecodeError                 it opened, but frames could not be read
    │   ├── VideoTimeoutError                decoding it took longer than the timeout (the decoder was killed)
    │   ├── WorkerCrashedError               the process decoding it died (native crash, abort, out of memory)
    │   └── VideoChangedError                the file changed while it was being read
    ├── EncoderError                         an encoder cannot be found, loaded or used
    │   └── UnsafeEncoderError               loading it would run code (refused unless --unsafe)
    ├── DependencyError (also ImportError)   an optional package a feature needs is not installed
    ├── ModelError                           a saved model cannot be loaded safely or does not fit the features
    └── StoreError                           the HDF5 feature file cannot be used
        ├── LayoutError                      not a featkit file, or a layout version we cannot read
        ├── StoreMismatchError               resuming with settings that differ from the file's
        ├── StoreLockedError                 another process is writing the same file
        └── StoreWriteError                  the output cannot be written (disk full, file too large,
                                             read-only, permission denied); earlier results are intact

Video errors are recorded per video in the output file's failures table and a
batch run goes on; the others stop the run before anything is written.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DependencyError",
    "EncoderError",
    "FeatkitError",
    "InsufficientDataError",
    "LayoutError",
    "ModelError",
    "StoreError",
    "StoreLockedError",
    "StoreMismatchError",
    "StoreWriteError",
    "UnsafeEncoderError",
    "VideoChangedError",
    "VideoDecodeError",
    "VideoError",
    "VideoOpenError",
    "VideoTimeoutError",
    "WorkerCrashedError",
]


class FeatkitError(Exception):
    """Base class of every error featkit raises on purpose."""


class ConfigError(FeatkitError, ValueError):
    """A configuration value is invalid; the message names the parameter and the value."""


class InsufficientDataError(ConfigError):
    """The selected features cannot support the analysis: no labels, a single class, too few videos for the folds."""


class VideoError(FeatkitError):
    """A single video cannot be used; batch runs record it and go on.

    Parameters
    ----------
    path : str
        The video the error is about.
    message : str
        What went wrong, in words.

    """

    #: Short machine-readable reason stored in the failures table.
    reason = "video_error"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.message = message


class VideoOpenError(VideoError):
    """The decoder cannot open the file as a video."""

    reason = "open_failed"


class VideoDecodeError(VideoError):
    """The video opened, but its frames or timestamps could not be read."""

    reason = "decode_failed"


class VideoTimeoutError(VideoError):
    """Decoding the video took longer than the configured timeout; its decoding process was killed."""

    reason = "timeout"


class WorkerCrashedError(VideoError):
    """The process decoding the video died: a crash in native code, an abort, or a kill for lack of memory."""

    reason = "worker_crashed"


class VideoChangedError(VideoError):
    """The file changed while it was being read; it is tried again on the next run."""

    reason = "file_changed"


class EncoderError(FeatkitError):
    """An encoder cannot be found, loaded, or does not fit what featkit expects."""


class UnsafeEncoderError(EncoderError):
    """Loading the encoder would run code from the file (a Keras Lambda layer, file or Python ops, a pickle).

    Refused by default; ``unsafe=True`` (``--unsafe``) loads Keras and SavedModel files whose
    author you trust. Pickle files are refused always.
    """


class DependencyError(FeatkitError, ImportError):
    """An optional package that a feature needs is not installed; the message says what to install."""


class ModelError(FeatkitError):
    """A saved model cannot be loaded safely (untrusted types) or does not match the features given to it."""


class StoreError(FeatkitError):
    """The HDF5 feature file cannot be read or written."""


class LayoutError(StoreError):
    """The file is not a featkit feature file, or its layout version is not supported."""


class StoreMismatchError(StoreError):
    """An existing output file was made with different settings than the current run."""


class StoreLockedError(StoreError):
    """Another process holds the write lock on the output file."""


class StoreWriteError(StoreError):
    """The output (file, journal or lock) cannot be written: disk full, file too large, read-only, no permission.

    The feature file on disk is left as it was and finished videos stay in the
    journal, so running the same command again after fixing the cause loses nothing.

    Parameters
    ----------
    message : str
        What failed, naming the path and the errno.
    path : str, default=""
        The path whose write failed.
    errno : int or None, default=None
        The operating system's error number (``errno.ENOSPC``, ``errno.EROFS``, ...).

    """

    def __init__(self, message: str, path: str = "", errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno
