"""Output piped into a reader that stops early (`rotation-bot prices show IWC | head -1`).

Once the reader has exited, the next write to stdout fails with EPIPE. rich
(`Console.on_broken_pipe`) and click (its `main`) both turn that into exit 1, and Python
would print "Exception ignored ... BrokenPipeError" at exit. A pipeline whose reader has seen
enough has not failed (`seq 1000000 | head -1` exits 0), so the CLI exits 0 quietly. Whether
the reader left is asked of the operating system, not of those libraries: the write end of
a pipe reports POLLERR once no process has its read end open.
"""

from __future__ import annotations

import os
import select
import stat


class StdoutPipe:
    """A duplicate of stdout's file descriptor when stdout is a pipe, to ask it later."""

    def __init__(self) -> None:
        self.fd: int | None = None
        try:
            if stat.S_ISFIFO(os.fstat(1).st_mode):
                self.fd = os.dup(1)  # rich points fd 1 at /dev/null on EPIPE: keep the pipe
        except OSError:  # no stdout at all: nothing to ask
            self.fd = None

    def reader_left(self) -> bool:
        """Whether stdout is a pipe whose reader has closed it."""
        if self.fd is None:
            return False
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))

    def close(self) -> None:
        """Let go of the duplicate."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nothing to fail on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
