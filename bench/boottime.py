#!/usr/bin/env python3
"""Time `vxos boot` from start until its shell prompt appears on a pty.

    bench/boottime.py [-n N] [VXOS]     N boots (default 10), median in ms

Each boot runs on a fresh pseudo-terminal, the clock starts just before
the exec of vxos and stops when the prompt (":~# " or ":~$ ") has been
read; then `exit` ends the shell and vxos must exit 0. The answer to
busybox's cursor-position query is sent as a terminal would. Prints one
line: "boot: median M ms (min A, max B, N boots)".
"""
import os, pty, select, statistics, sys, time

def boot_once(vxos):
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "vt100"
        os.execv(vxos, [vxos, "boot"])
    buf = b""
    t1 = None
    deadline = t0 + 20
    while t1 is None:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            raise SystemExit("boottime: no prompt within 20 s; screen: %r" % buf[-300:])
        d = os.read(fd, 4096)
        if b"\x1b[6n" in d:
            os.write(fd, b"\x1b[1;1R")
        buf += d
        if b":~# " in buf or b":~$ " in buf:
            t1 = time.monotonic()
    os.write(fd, b"exit\r")
    while True:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            break
        try:
            if not os.read(fd, 4096):
                break
        except OSError:
            break
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    if st != 0:
        raise SystemExit("boottime: vxos boot ended with wait status %d" % st)
    return (t1 - t0) * 1000

def main():
    args = sys.argv[1:]
    n = 10
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return
    if args[:1] == ["-n"]:
        n = int(args[1])
        args = args[2:]
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    vxos = args[0] if args else os.path.join(top, "target/release/vxos")
    boot_once(vxos)  # warm the host's caches
    times = [boot_once(vxos) for _ in range(n)]
    print("boot: median %.1f ms (min %.1f, max %.1f, %d boots)" % (statistics.median(times), min(times), max(times), n))

main()
