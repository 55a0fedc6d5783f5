"""When the consumer closes a batch: the rule alone, without threads or clocks.

The decoder thread drains the inbox into a batch and asks :func:`flush_reason` after every
drain.  A batch is handed to the writer

* ``full``: at once when it holds ``max_messages`` messages or ``max_bytes`` payload bytes;
* ``stop``: at once when the consumer is stopping;
* ``idle``: at once when the inbox is empty and no batch is waiting for the writer: one
  reading on a quiet line is written immediately, like a per-message flow;
* ``window``: otherwise (messages keep arriving, or a batch is already waiting for the
  writer, so flushing now would not write anything sooner) it keeps collecting, for at most
  ``window_s`` after its first message.

So latency at low rates is one transaction, and at high rates batches grow to whatever
accumulates while the writer is busy (up to the caps): throughput stays.
"""

from __future__ import annotations

from collections import Counter

FULL, STOP, IDLE, WINDOW = "full", "stop", "idle", "window"
REASONS = (FULL, STOP, IDLE, WINDOW)


def flush_reason(n: int, nbytes: int, *, inbox_empty: bool, ahead: int, elapsed_s: float, max_messages: int,
                 max_bytes: int, window_s: float, stopping: bool = False) -> str | None:
    """Why a batch of ``n`` messages (``nbytes`` payload bytes) closes now, or None to keep collecting.

    ``ahead``: batches already waiting for the writer; ``elapsed_s``: since the batch's first message.
    """
    if n <= 0:
        return None
    if n >= max_messages or nbytes >= max_bytes:
        return FULL
    if stopping:
        return STOP
    if inbox_empty and ahead <= 0:
        return IDLE
    if elapsed_s >= window_s:
        return WINDOW
    return None


def size_bucket(n: int) -> str:
    """Batch-size histogram bucket: '1', '2-9', '10-99', '100-999', '1000-9999', '10000+'."""
    if n <= 1:
        return "1"
    if n < 10:
        return "2-9"
    if n < 100:
        return "10-99"
    if n < 1000:
        return "100-999"
    if n < 10_000:
        return "1000-9999"
    return "10000+"


class BatchStats:
    """Flush reasons and batch sizes, as ``Consumer.stats()["batching"]`` reports them."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.sizes: Counter[str] = Counter()
        self.batches = 0
        self.messages = 0
        self.largest = 0
        self.last_size = 0
        self.last_reason: str | None = None

    def record(self, n: int, reason: str) -> None:
        self.reasons[reason] += 1
        self.sizes[size_bucket(n)] += 1
        self.batches += 1
        self.messages += n
        self.largest = max(self.largest, n)
        self.last_size, self.last_reason = n, reason

    def as_dict(self) -> dict:
        return {"flushes": {r: self.reasons[r] for r in REASONS}, "sizes": dict(self.sizes),
                "batches": self.batches, "mean_size": round(self.messages / self.batches, 1) if self.batches else 0.0,
                "largest": self.largest, "last_size": self.last_size, "last_reason": self.last_reason}
