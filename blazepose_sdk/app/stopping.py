"""How a command ends: exit statuses, stops from outside (SIGINT, SIGTERM, a closed standard
output) raised in the main thread so that every ``finally`` saves what was computed, and the
standard descriptors kept usable."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

# Exit statuses: 2 for anything refused (a BlazePoseError: one `blazepose: error:` line); a run
# stopped from outside exits as a shell reports a process killed by the signal (128 + its number):
# 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 141 when the reader of standard output goes away
# (SIGPIPE; e.g. `--json - | head`). Outputs are saved first in every case.
EXIT_ERROR = 2
EXIT_SIGPIPE = 128 + 13


class Stopped(KeyboardInterrupt):
    """The run was stopped from outside (SIGTERM, or standard output closed by its reader). Raised
    in the main thread like Ctrl-C's KeyboardInterrupt, so that every ``finally`` on the way saves
    what was computed; ``message``: the stderr line (None: quiet)."""

    def __init__(self, status: int, message: str | None) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def say(line: str) -> None:
    """One line on stderr; nothing when stderr is closed (``2>&-``: ``sys.stderr`` is None)."""
    if sys.stderr is not None:
        try:
            print(line, file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


def keep_standard_fds_open() -> None:
    """Point a closed stdout or stderr (``>&-``, ``2>&-``) at /dev/null. Otherwise the next file
    opened (an output) would get that descriptor, and what libraries print there (OpenCV, FFmpeg
    and TFLite log to fd 2) would land in the output. A descriptor that is open but not for
    writing counts as closed (a wrapper script's own file may sit there, as with pyenv's shims)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: only whether it is open
        fcntl = None
    for fd in (1, 2):
        try:
            if fcntl is None:
                writable = bool(os.fstat(fd))
            else:
                writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
        except OSError:
            writable = False
        if not writable:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


@contextlib.contextmanager
def signals_stop_the_run():
    """While the command runs (main thread only), SIGTERM stops it like Ctrl-C: the first SIGINT
    raises KeyboardInterrupt, the first SIGTERM :class:`Stopped` (143), so outputs are closed and
    saved on the way out. Later ones are ignored until the command has returned, so that a second
    Ctrl-C does not cut the saving short (SIGKILL still ends it at once). The previous handlers
    come back on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(128 + signum, "blazepose: terminated")

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def silence_stdout() -> None:
    """Standard output's reader is gone: send what is left to /dev/null, so that flushing it at exit
    raises no second BrokenPipeError."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (AttributeError, OSError, ValueError):
        pass
