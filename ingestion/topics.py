"""MQTT topic layout.

* ``<root>/<site>/<area>/<asset>/<sensor>/telemetry``: one reading (``<asset>`` is ``-`` for
  sensors that belong to an area rather than a machine);
* ``<root>/<site>/gateway/telemetry``: a batch of readings from a gateway;
* ``<root>/<site>/alarms``: alarm events published by the consumer.

``<root>`` is ``qhse`` in production; tests and benchmarks use their own root so that
parallel runs on one broker never see each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ROOT = "qhse"
DEFAULT_SHARE_GROUP = "qhse"
NO_ASSET = "-"
_FORBIDDEN = set("/+#\x00")


def check_segment(value: str, what: str) -> str:
    if not value or any(c in _FORBIDDEN for c in value):
        raise ValueError(f"{what} {value!r} cannot be used in an MQTT topic (empty, or contains / + # or NUL)")
    return value


def check_root(root: str) -> str:
    if (not root or root.startswith("/") or root.endswith("/") or any(c in "+#\x00" for c in root)
            or root.startswith("$")):
        raise ValueError(f"topic root {root!r} is not valid (no leading/trailing '/', no + # $)")
    return root


def telemetry_topic(site: str, area: str, asset: str | None, sensor: str, root: str = DEFAULT_ROOT) -> str:
    return f"{root}/{site}/{area}/{asset or NO_ASSET}/{sensor}/telemetry"


def gateway_topic(site: str, root: str = DEFAULT_ROOT) -> str:
    return f"{root}/{site}/gateway/telemetry"


def alarm_topic(site: str, root: str = DEFAULT_ROOT) -> str:
    return f"{root}/{site}/alarms"


def subscriptions(root: str = DEFAULT_ROOT, share_group: str | None = None) -> list[str]:
    """Topic filters the consumer subscribes to; with ``share_group`` as MQTT v5 shared subscriptions."""
    filters = [f"{root}/+/+/+/+/telemetry", f"{root}/+/gateway/telemetry"]
    if share_group:
        return [f"$share/{share_group}/{f}" for f in filters]
    return filters


@dataclass(frozen=True, slots=True)
class TopicInfo:
    kind: str  # "single" or "gateway"
    site: str
    area: str | None = None
    asset: str | None = None
    sensor: str | None = None


def parse_topic(topic: str, root: str = DEFAULT_ROOT) -> TopicInfo | None:
    """Split a telemetry topic; None when it is not one of ours."""
    prefix = root + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix):].split("/")
    if len(parts) == 5 and parts[4] == "telemetry":
        site, area, asset, sensor, _ = parts
        if not (site and area and asset and sensor):
            return None
        return TopicInfo("single", site, area, None if asset == NO_ASSET else asset, sensor)
    if len(parts) == 3 and parts[1] == "gateway" and parts[2] == "telemetry" and parts[0]:
        return TopicInfo("gateway", parts[0])
    return None
