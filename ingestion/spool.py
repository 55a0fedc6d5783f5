"""A bounded on-disk spool of raw messages, used while PostgreSQL is unreachable.

Each batch becomes one segment file, written to a temporary name, fsync'ed and renamed,
so a segment is either complete or absent (a crash mid-write leaves only a ``.tmp`` file,
whose messages were never acknowledged and will be redelivered by the broker).  Segments
are replayed oldest first and deleted only after their transaction committed; replaying a
segment twice is harmless because reading writes are idempotent.

Raw messages (topic, payload, time of receipt) are kept rather than decoded readings, so
validation and dead-lettering happen on replay exactly as they would have live.

A segment that cannot be replayed (damaged, or holding a record that fails to store) is
quarantined: renamed ``.corrupt`` and kept for inspection, its readable records replayed,
the rest dead-lettered; it is never retried forever.  A spool directory that cannot be
written is a ``SpoolError`` at start-up and an ``OSError`` from ``append`` later (the
consumer then stops acknowledging, so the broker keeps the backlog).
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

MAGIC = b"QHSESPL1"
_HDR = struct.Struct("<IIq")  # topic length, payload length, receipt time (epoch µs)


class SpoolCorrupt(Exception):
    pass


class SpoolError(Exception):
    """The spool directory cannot be created or written (one line naming the path)."""


def check_dir(directory: Path) -> Path:
    """Create ``directory`` and prove it is writable, or raise SpoolError."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise SpoolError(f"spool directory {d} is not writable ({exc.strerror or exc})") from None
    return d


class Spool:
    def __init__(self, directory: Path, max_bytes: int = 1 << 30):
        self.dir = check_dir(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            for tmp in self.dir.glob("*.tmp"):
                tmp.unlink(missing_ok=True)
            segs = self.segments()
            self._bytes = sum(p.stat().st_size for p in segs)
        except OSError as exc:
            raise SpoolError(f"spool directory {self.dir} is not usable ({exc.strerror or exc})") from None
        self._seq = int(segs[-1].stem) + 1 if segs else 1

    # -- state ------------------------------------------------------------------------------
    def segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.spool"))

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self.segments())

    def is_empty(self) -> bool:
        return not any(self.dir.glob("*.spool"))

    # -- write --------------------------------------------------------------------------------
    @staticmethod
    def encode(messages) -> bytes:
        parts = [MAGIC]
        for m in messages:  # (topic, payload, recv_us, ...): items after the third are not spooled
            topic, payload, recv_us = m[0], m[1], m[2]
            t = topic.encode("utf-8", "surrogateescape")
            parts.append(_HDR.pack(len(t), len(payload), recv_us))
            parts.append(t)
            parts.append(payload)
        return b"".join(parts)

    def has_room(self, nbytes: int) -> bool:
        return self._bytes + nbytes <= self.max_bytes

    def append(self, messages) -> Path | None:
        """Durably store one batch; None when the spool is full (nothing written)."""
        data = self.encode(messages)
        with self._lock:
            if not self.has_room(len(data)):
                return None
            seq = self._seq
            final = self.dir / f"{seq:012d}.spool"
            tmp = final.with_suffix(".tmp")
            try:
                self.dir.mkdir(parents=True, exist_ok=True)  # removed meanwhile: recreated
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, final)
                dfd = os.open(self.dir, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            except OSError:
                # Disk full, read-only, gone: nothing was stored; the caller keeps the batch.
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
                raise
            self._seq += 1
            self._bytes += len(data)
            return final

    # -- read -----------------------------------------------------------------------------------
    @staticmethod
    def read(path: Path) -> list[tuple[str, bytes, int]]:
        out, _rest, why = Spool.read_partial(path)
        if why:
            raise SpoolCorrupt(f"{path}: {why}")
        return out

    @staticmethod
    def read_partial(path: Path) -> tuple[list[tuple[str, bytes, int]], bytes, str]:
        """(records readable before any damage, the unreadable rest, why it is unreadable or '')."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            return [], b"", f"unreadable ({exc.strerror or exc})"
        if not data.startswith(MAGIC):
            return [], data, "not a spool segment"
        out = []
        pos = len(MAGIC)
        n = len(data)
        while pos < n:
            start = pos
            if pos + _HDR.size > n:
                return out, data[start:], f"truncated at byte {start}"
            tl, pl, recv_us = _HDR.unpack_from(data, pos)
            pos += _HDR.size
            if pos + tl + pl > n:
                return out, data[start:], f"truncated at byte {start}"
            topic = data[pos:pos + tl].decode("utf-8", "surrogateescape")
            pos += tl
            out.append((topic, data[pos:pos + pl], recv_us))
            pos += pl
        return out, b"", ""

    def remove(self, path: Path) -> None:
        with self._lock:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return
            path.unlink(missing_ok=True)
            self._bytes = max(0, self._bytes - size)

    def quarantine(self, path: Path) -> Path:
        """Move a segment that cannot be replayed aside (kept for inspection, no longer replayed)."""
        with self._lock:
            bad = path.with_suffix(".corrupt")
            try:
                size = path.stat().st_size
                os.replace(path, bad)
            except FileNotFoundError:
                return bad
            except OSError:
                # Cannot even rename it: delete it so that it does not block the spool forever
                # (its records were replayed or dead-lettered before it got here).
                size = path.stat().st_size if path.exists() else 0
                path.unlink(missing_ok=True)
            self._bytes = max(0, self._bytes - size)
            return bad
