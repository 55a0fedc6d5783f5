"""A bounded on-disk spool of raw messages, used while PostgreSQL is unreachable.

Each batch becomes one segment file, written to a temporary name, fsync'ed and renamed,
so a segment is either complete or absent (a crash mid-write leaves only a ``.tmp`` file,
whose messages were never acknowledged and will be redelivered by the broker).  Segments
are replayed oldest first and deleted only after their transaction committed; replaying a
segment twice is harmless because reading writes are idempotent.

Raw messages (topic, payload, time of receipt) are kept rather than decoded readings, so
validation and dead-lettering happen on replay exactly as they would have live.
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


class Spool:
    def __init__(self, directory: Path, max_bytes: int = 1 << 30):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        segs = self.segments()
        self._seq = int(segs[-1].stem) + 1 if segs else 1
        self._bytes = sum(p.stat().st_size for p in segs)

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
        for topic, payload, recv_us in messages:
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
            self._seq += 1
            final = self.dir / f"{seq:012d}.spool"
            tmp = final.with_suffix(".tmp")
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
            self._bytes += len(data)
            return final

    # -- read -----------------------------------------------------------------------------------
    @staticmethod
    def read(path: Path) -> list[tuple[str, bytes, int]]:
        data = Path(path).read_bytes()
        if not data.startswith(MAGIC):
            raise SpoolCorrupt(f"{path}: not a spool segment")
        out = []
        pos = len(MAGIC)
        n = len(data)
        while pos < n:
            if pos + _HDR.size > n:
                raise SpoolCorrupt(f"{path}: truncated at byte {pos}")
            tl, pl, recv_us = _HDR.unpack_from(data, pos)
            pos += _HDR.size
            if pos + tl + pl > n:
                raise SpoolCorrupt(f"{path}: truncated at byte {pos}")
            topic = data[pos:pos + tl].decode("utf-8", "surrogateescape")
            pos += tl
            out.append((topic, data[pos:pos + pl], recv_us))
            pos += pl
        return out

    def remove(self, path: Path) -> None:
        with self._lock:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return
            path.unlink(missing_ok=True)
            self._bytes = max(0, self._bytes - size)

    def quarantine(self, path: Path) -> Path:
        """Move an unreadable segment aside (kept for inspection, no longer replayed)."""
        with self._lock:
            size = path.stat().st_size
            bad = path.with_suffix(".corrupt")
            os.replace(path, bad)
            self._bytes = max(0, self._bytes - size)
            return bad
