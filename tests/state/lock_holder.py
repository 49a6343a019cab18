"""Another `dtm apply`, played by a child Python process that holds a state's lock until told to finish."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import ClassVar


class LockHolder:
    """Runs `script` with the state's name as its argument: the script takes the lock, prints "locked", holds
    it until a line arrives on its stdin, releases it and prints "released". Subclasses give the script."""

    script: ClassVar[str]
    exit_timeout: ClassVar[float] = 10.0

    def __init__(self, state: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", self.script, state], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"
        self._finishing = threading.Lock()  # a test may finish it from a timer thread while teardown does too
        self._told = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def finish(self) -> None:
        """Let the run release its lock and end."""
        with self._finishing:
            if self.proc.poll() is None and not self._told:
                assert self.proc.stdin is not None and self.proc.stdout is not None
                self.proc.stdin.write("done\n")
                self.proc.stdin.flush()
                self._told = True
                assert self.proc.stdout.readline().strip() == "released"
            self.proc.wait(timeout=self.exit_timeout)

    def crash(self) -> None:
        """The run dies without releasing anything, as with an OOM kill or a pulled plug."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
