"""The standard sensor kinds and alarm rules: what a machine or an area of a given kind carries.

Used by the demo data, by importers that create missing sensors (AI4I machine history) and by
tests and benchmarks that build a plant.  Pure data.
"""

from __future__ import annotations

MACHINE_SENSORS = [
    # kind, unit, min_valid, max_valid, warn_high, alarm_high
    ("air_temp", "K", 250.0, 350.0, None, None),
    ("process_temp", "K", 250.0, 400.0, 314.0, 316.0),
    ("rpm", "rpm", 0.0, 4000.0, None, None),
    ("torque", "Nm", 0.0, 120.0, 60.0, 70.0),
    ("tool_wear", "min", 0.0, 400.0, 200.0, 230.0),
    ("vibration", "mm/s", 0.0, 50.0, 4.5, 7.1),  # ISO 10816 class II zone boundaries
]

ENV_SENSORS = {
    # area kind -> [(kind, unit, min_valid, max_valid, warn_low, warn_high, alarm_low, alarm_high)]
    "chemical_store": [("voc", "ppm", 0, 2000, None, 50, None, 100),
                       ("temperature", "degC", -20, 80, None, 30, None, 35),
                       ("humidity", "%RH", 0, 100, None, 70, None, 80), ("o2", "%vol", 0, 30, 19.5, None, 19.5, None)],
    "soldering": [("voc", "ppm", 0, 2000, None, 50, None, 100)],
    "cleaning": [("voc", "ppm", 0, 2000, None, 50, None, 100), ("o2", "%vol", 0, 30, 19.5, None, 19.5, None)],
    "waste": [("h2s", "ppm", 0, 200, None, 5, None, 10), ("o2", "%vol", 0, 30, 19.5, None, 19.5, None)],
    "welding": [("o2", "%vol", 0, 30, 19.5, None, 19.5, None), ("voc", "ppm", 0, 2000, None, 50, None, 100)],
}

DEFAULT_ALARM_RULES = [
    # name, sensor_kind, kind, op, threshold, clear_threshold, duration_s, severity
    ("Solvent vapour high", "voc", "threshold", ">", 100.0, 80.0, 0, "critical"),
    ("Solvent vapour elevated", "voc", "threshold", ">", 50.0, 40.0, 60, "warning"),
    ("Oxygen deficiency", "o2", "threshold", "<", 19.5, 20.0, 0, "critical"),
    ("Hydrogen sulphide high", "h2s", "threshold", ">", 10.0, 5.0, 0, "critical"),
    ("Chemical store over-temperature", "temperature", "threshold", ">", 35.0, 33.0, 300, "warning"),
    ("Chemical store humidity high", "humidity", "threshold", ">", 80.0, 75.0, 600, "warning"),
    ("Machine vibration high (ISO 10816 zone D)", "vibration", "threshold", ">", 7.1, 6.0, 120, "critical"),
    ("Machine vibration rising fast", "vibration", "rate", ">", 1.0, None, 0, "warning"),
    ("Process temperature high", "process_temp", "threshold", ">", 316.0, 314.0, 300, "warning"),
]
