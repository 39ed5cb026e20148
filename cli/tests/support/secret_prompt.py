"""Drive `riskflow connections connect generic` on a pseudo-terminal, type the signing secret at
its prompt, and check that the secret never comes back on the terminal (no echo).

Usage: secret_prompt.py <riskflow binary> <data dir>
Exits 0 when the connect succeeded and the secret was not echoed; otherwise prints what the
terminal showed (with the secret masked) and exits 1.
"""

import os
import pty
import select
import sys
import termios
import time

SECRET = "whsec_cHR5LWVjaG8tY2FuYXJ5LXNlY3JldC0wMQ=="
DEADLINE_S = 60


def read_until(fd, wanted, seen):
    """Read from the terminal into `seen` until `wanted` appears (True), or until it closes or
    the deadline passes (False). `wanted=None` reads until the terminal closes."""
    end = time.monotonic() + DEADLINE_S
    while wanted is None or wanted not in seen:
        left = end - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        seen.extend(chunk)
    return True


def wait_for_echo_off(fd, seen, limit_s=5):
    """Wait (reading output meanwhile) until the terminal's ECHO flag is cleared, as a person
    would start typing only once the prompt is up; False when it stays on. The pty master reports
    the slave's settings."""
    end = time.monotonic() + limit_s
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        left = end - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], min(left, 0.01))
        if ready:
            try:
                seen.extend(os.read(fd, 4096))
            except OSError:
                return False
    return True


def fail(why, seen):
    shown = bytes(seen).decode("utf-8", "replace").replace(SECRET, "<THE SECRET>")
    print(f"{why}\n--- the terminal showed ---\n{shown}")
    sys.exit(1)


def main():
    binary, data_dir = sys.argv[1], sys.argv[2]
    pid, fd = pty.fork()
    if pid == 0:
        env = dict(os.environ)
        env.pop("RISKFLOW_DATA_DIR", None)
        os.execve(
            binary,
            [binary, "--data-dir", data_dir, "connections", "connect", "generic"],
            env,
        )
    seen = bytearray()
    if not read_until(fd, b"Signing secret: ", seen):
        fail("no prompt for the signing secret", seen)
    # Typed once the prompt reads (echo still on after 5 s: typed anyway, and seen echoed).
    wait_for_echo_off(fd, seen)
    os.write(fd, SECRET.encode() + b"\r")
    if not read_until(fd, b"(optional, Enter to skip): ", seen):
        fail("no prompt for the previous signing secret", seen)
    os.write(fd, b"\r")
    read_until(fd, None, seen)
    _, status = os.waitpid(pid, 0)
    if SECRET.encode() in seen:
        fail("the secret was echoed", seen)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        fail(f"riskflow failed (status {status})", seen)
    if b"Signing secret saved" not in seen:
        fail("riskflow did not say the secret was saved", seen)
    print("ok: prompted twice, the secret was not echoed, the connection was saved")


if __name__ == "__main__":
    main()
