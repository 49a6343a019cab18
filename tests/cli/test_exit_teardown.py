"""dtm's process leaves without the interpreter collecting every object a run left behind.

After a 300-change apply, those collections took 3-5 s between the summary's last line and the shell's
prompt on a busy machine (benchmarks/command_wall.py measures it). The CLI freezes the objects at exit,
after Prefect has drained its queues, so the teardown skips them.
"""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_freezes_its_objects_at_exit_so_the_teardown_skips_them():
    # atexit runs last-registered first: this check, registered before dtm's CLI is imported, runs after it.
    probe = ("import atexit, gc\n"
             "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
             "import devstream.cli.main\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "frozen at exit: True"
