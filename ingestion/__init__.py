"""Sensor data in: MQTT consumer, payload schemas, batch writer, alarm rules, simulator, importers.

* ``consumer``  - ``qhse ingest``: paho-mqtt 2 (MQTT v5, shared subscription, manual bulk
  acknowledgements), validation, idempotent COPY, dead letters, spool, alarm rules;
* ``decode`` / ``schemas`` / ``registry`` / ``topics`` - what a valid message is;
* ``store`` - readings, rollups and dead letters in PostgreSQL;
* ``spool`` - the on-disk buffer while PostgreSQL is away;
* ``alarms`` - rule evaluation on the stream, operator clear;
* ``simulator`` - ``qhse simulate``; ``importers`` - ``qhse import``;
* ``broker`` - the embedded amqtt broker; ``mqtt`` - the tuned paho client;
* ``live`` - broker, consumer and simulator in the background of ``qhse demo``;
* ``cli`` - the commands, registered in ``qhse.cli``.
"""
