"""Whether the ports a command is about to listen on are free, and who holds them if not.

A server that cannot bind its port says so only in its own log, after everything before it
has started: `protect up` (and the cluster) ask first, and name the process in the way.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from app.domain.errors import ProtectError

PROC = Path("/proc")
LISTEN = "0A"  # the state of a listening socket in /proc/net/tcp


def bindable(host: str, port: int) -> bool:
    """Whether a server could listen on (host, port) now: bound the way uvicorn binds, with
    SO_REUSEADDR, so connections of a server stopped a moment ago (TIME_WAIT) do not count.
    Raises for any other reason not to (no such address here)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return False
        raise
    return True


def listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on `port`, any address, IPv4 and IPv6 (Linux)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and \
                    int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def holder(port: int) -> tuple[int, str] | None:
    """The pid and command line of a process listening on `port`, if this user may see it."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    if not wanted:
        return None
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if fd.readlink().as_posix() in wanted:
                    words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace").split()
                    return int(entry.name), " ".join(words)  # on one line, whatever it holds
        except OSError:  # another user's process, or gone meanwhile
            continue
    return None


def ensure_free(ports: dict[str, tuple[str, int]]) -> None:
    """Raise, naming the port and what holds it, unless every one of `ports` (what would listen
    there: its host and port) can be listened on."""
    for what, (host, port) in ports.items():
        try:
            if bindable(host, port):
                continue
        except OSError as exc:  # socket.gaierror too
            raise ProtectError(f"cannot listen on {host}:{port} ({what}): "
                               f"{exc.strerror or exc}") from None
        found = holder(port)
        if found is None:
            by = "another process"
        else:
            pid, cmdline = found
            by = f"pid {pid} ({cmdline[:120] + ('…' if len(cmdline) > 120 else '')})"
        raise ProtectError(f"port {port} ({what}) is already in use by {by}: stop it, or "
                           "choose another port")
