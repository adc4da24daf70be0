"""Ctrl-C at any moment: exit 130 with one line, never a traceback, never swallowed.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be. In
the imports at start-up (torch, the config's dataclasses) that is a traceback; inside a
__del__, a weakref callback or a library's `except BaseException` it is printed as
"Exception ignored" or lost, and the command goes on. So the `activelearn` program (not
a test or another program that imports this package) handles SIGINT itself, in phases:

- starting (guard_startup, called first by cli/__init__.py): nothing has been changed
  yet, so a Ctrl-C writes "interrupted" and exits 130 at once;
- running (running(), around the command): a Ctrl-C raises KeyboardInterrupt, so that
  `with` blocks release what they hold (the cycle lock, the state) and the CLI prints
  its one line (base.handle_errors); if the program has not ended GRACE_S later (the
  interrupt was swallowed, or the main thread is stuck in C code), it exits 130 then;
  a second Ctrl-C exits at once;
- finished (finished(code), once the command returned): exit with its code at once;
  in the interpreter's teardown, after the exit handlers, a Ctrl-C is ignored (Python
  would otherwise die by the signal there, with neither the code nor a line).

Only the process that installed the handler acts on it: DataLoader workers, forked with
it, get the default KeyboardInterrupt (torch's workers catch that and end quietly).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from activelearn.failpoints import failpoint

GRACE_S = 15.0  # after a Ctrl-C, the longest the program may take to unwind
EXIT_CODE = 130
PROGRAM = "activelearn"
STARTED = "cli:started"  # the failpoint once the handler is in place


class _Phase:
    """The program's phase (a small object, not module-level dicts)."""

    owner = 0  # the pid that installed the handler; 0: not installed
    name = "starting"
    code = 0  # the finished command's exit code
    presses = 0


def is_program() -> bool:
    """Whether this process runs the activelearn command (the console script or
    `python -m activelearn.cli`), rather than something that imports the package or a
    process multiprocessing started from it (serve's cycle processes import the main
    script again, with its argv)."""
    if getattr(sys.modules.get("__mp_main__"), "__name__", "") == "__mp_main__":
        return False  # a spawned or forkserver child running the main script again (in
        # the parent, multiprocessing makes __mp_main__ another name of __main__)
    if os.path.basename(sys.argv[0]).removesuffix(".exe") == PROGRAM:
        return True
    argv = list(getattr(sys, "orig_argv", []))
    return any(a == "-m" and b == f"{PROGRAM}.cli" for a, b in zip(argv, argv[1:]))


def guard_startup() -> None:
    """In the activelearn program's main thread: from now on a Ctrl-C exits 130 with one
    line (the starting phase); elsewhere nothing."""
    if not is_program() or threading.current_thread() is not threading.main_thread():
        return
    _Phase.owner, _Phase.name = os.getpid(), "starting"
    signal.signal(signal.SIGINT, _on_interrupt)
    atexit.register(_ignore_in_teardown)  # the first registered: it runs last
    failpoint(STARTED)  # tests: from here on a Ctrl-C is the program's


@contextmanager
def running() -> Iterator[None]:
    """The command runs: a Ctrl-C raises KeyboardInterrupt (see the module). Does
    nothing unless guard_startup installed the handler in this process."""
    if _Phase.owner != os.getpid():
        yield
        return
    _Phase.name = "running"
    try:
        yield
    finally:
        _Phase.name = "unwound"


def finished(code: int) -> None:
    """The command returned with code: a Ctrl-C from now on exits with it at once."""
    _Phase.name, _Phase.code = "finished", code


def interrupted_line() -> str:
    """The one line of an interrupted command (on a line of its own after the
    terminal's ^C)."""
    return ("\n" if _isatty() else "") + "interrupted"


def say_interrupted() -> None:
    """Write interrupted_line() to stderr, from a signal handler or a timer thread."""
    with suppress(OSError, ValueError, RuntimeError):
        sys.stderr.flush()
    os.write(2, f"{interrupted_line()}\n".encode())


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _Phase.owner:  # a forked child (a DataLoader worker): the default
        raise KeyboardInterrupt
    _Phase.presses += 1
    if _Phase.name == "finished":
        _exit(_Phase.code)
    if _Phase.name != "running" or _Phase.presses > 1:
        say_interrupted()
        _exit(EXIT_CODE)
    timer = threading.Timer(GRACE_S, _give_up)
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


def _ignore_in_teardown() -> None:
    """After the last exit handler: the interpreter's teardown that follows puts SIGINT's
    default back (the process would die by the signal, without its code or a line), so a
    Ctrl-C in it is ignored instead; the program ends with its command's code."""
    if os.getpid() == _Phase.owner:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _give_up() -> None:
    """The KeyboardInterrupt did not end the program within GRACE_S: end it."""
    say_interrupted()
    _exit(EXIT_CODE)


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError, RuntimeError):  # closed, or flushing already
            stream.flush()
    os._exit(code)


def _isatty() -> bool:
    try:
        return os.isatty(2)
    except OSError:
        return False
