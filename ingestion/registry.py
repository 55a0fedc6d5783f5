"""The sensors the consumer knows, cached in memory and reloaded when an unknown one shows up."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

_SQL = """
SELECT s.id, st.code, a.code, s.site_id, s.area_id, ast.code, s.code, s.kind, s.unit,
       COALESCE(s.min_valid, k.min_valid), COALESCE(s.max_valid, k.max_valid), s.active
FROM sensor s
JOIN site st ON st.id = s.site_id
JOIN area a ON a.id = s.area_id
LEFT JOIN asset ast ON ast.id = s.asset_id
LEFT JOIN sensor_kind k ON k.kind = s.kind
"""
# A sensor's own valid range wins; a bound it leaves open comes from its kind (sensor_kind).


@dataclass(frozen=True, slots=True)
class SensorInfo:
    id: int
    site: str  # site code
    area: str  # area code
    site_id: int
    area_id: int
    asset: str | None  # asset code
    code: str
    kind: str
    unit: str
    min_valid: float
    max_valid: float
    active: bool


class SensorRegistry:
    """(site code, sensor code) -> SensorInfo, loaded from the database.

    ``reload_interval_s`` bounds how often an unknown sensor triggers a reload, so a
    device publishing under a wrong name cannot turn every message into a query.
    """

    def __init__(self, reload_interval_s: float = 5.0):
        self.by_key: dict[tuple[str, str], SensorInfo] = {}
        self.by_id: dict[int, SensorInfo] = {}
        self.loaded_at: float | None = None
        self.reload_interval_s = reload_interval_s
        self.version = 0

    def load(self, conn) -> int:
        """(Re)load every sensor; ``conn`` is a psycopg connection."""
        rows = conn.execute(_SQL).fetchall()
        by_key, by_id = {}, {}
        for r in rows:
            info = SensorInfo(
                id=r[0], site=r[1], area=r[2], site_id=r[3], area_id=r[4], asset=r[5], code=r[6], kind=r[7],
                unit=r[8], min_valid=float("-inf") if r[9] is None else float(r[9]),
                max_valid=float("inf") if r[10] is None else float(r[10]), active=bool(r[11]))
            by_key[(info.site, info.code)] = info
            by_id[info.id] = info
        self.by_key, self.by_id = by_key, by_id
        self.loaded_at = time.monotonic()
        self.version += 1
        return len(rows)

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    def may_reload(self) -> bool:
        return self.loaded_at is None or time.monotonic() - self.loaded_at >= self.reload_interval_s

    def get(self, site: str, code: str) -> SensorInfo | None:
        return self.by_key.get((site, code))

    def __len__(self) -> int:
        return len(self.by_key)
