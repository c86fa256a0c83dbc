"""The kernel launcher's parent watch: a kernel never outlives the runner, even while starting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil

PARENT = textwrap.dedent("""
    import os, subprocess, sys, time
    env = dict(os.environ, JPY_PARENT_PID=str(os.getpid()))
    code = "from runbook_lib.kernel import watch_parent; import time; watch_parent(0.1); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    print(child.pid, flush=True)
    time.sleep(60)
""")


def test_child_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(0.5)
    assert child.is_running()
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    gone, alive = psutil.wait_procs([child], timeout=10)
    for p in alive:
        p.kill()
    assert not alive


def test_kernel_command_goes_through_the_launcher() -> None:
    from runbook_lib.runner.kernels import KERNEL_NAME, _kernel_manager_class

    km = _kernel_manager_class()(kernel_name=KERNEL_NAME)
    cmd = km.format_kernel_cmd([])
    assert cmd[cmd.index("-m") + 1] == "runbook_lib.kernel" and "ipykernel_launcher" not in cmd
