"""cli/interrupt.py in a real process: the program's Ctrl-C by phase, including one that
a library swallows (a KeyboardInterrupt caught and dropped) and a stuck main thread."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import sys, time
sys.argv[0] = "/usr/bin/activelearn"          # the program, as the console script
from activelearn.cli import interrupt
interrupt.GRACE_S = 1.0
interrupt.guard_startup()
with interrupt.running():
    print("ready", flush=True)
    while True:
        try:
            while True:
                time.sleep(0.05)
        except KeyboardInterrupt:               # a library that swallows it
            {swallow}
"""


def start(swallow: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(swallow=swallow)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # in the loop, not still returning from print
    return proc


@pytest.mark.parametrize("presses,within", [(1, 6.0), (2, 0.9)])
def test_a_swallowed_interrupt_still_ends_the_program(presses: int, within: float) -> None:
    proc = start("pass")
    started = time.monotonic()
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert stderr.strip() == "interrupted"
    assert time.monotonic() - started < within


def test_an_interrupt_that_unwinds_is_the_commands_to_report() -> None:
    """The running phase raises KeyboardInterrupt: `with` blocks and the CLI act on it."""
    proc = start("print('unwound', flush=True); raise SystemExit(7)")
    proc.send_signal(signal.SIGINT)
    out, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, out.strip(), stderr) == (7, "unwound", "")


def test_a_process_that_is_not_the_program_keeps_pythons_handler() -> None:
    code = ("import signal; from activelearn.cli import interrupt; interrupt.guard_startup(); "
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "True"


def test_processes_the_program_starts_keep_pythons_handler(tmp_path) -> None:
    """serve's cycle processes (forkserver) run the main script again, with its argv:
    they unwind on Ctrl-C like any Python process, and exit as their parent tells."""
    script = tmp_path / "activelearn"
    script.write_text(f"#!{sys.executable}\n" + """
import multiprocessing, signal, sys
from activelearn.cli import main

def child():
    print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)

if __name__ == "__main__":
    print(signal.getsignal(signal.SIGINT) is not signal.default_int_handler, flush=True)
    process = multiprocessing.get_context("forkserver").Process(target=child)
    process.start()
    process.join()
""")
    script.chmod(0o755)
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert out.split() == ["True", "True"]  # the program's own handler; the child's default
