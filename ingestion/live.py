"""The live part of ``qhse demo``: broker, consumer and simulator in the background.

``start_live_stream`` starts the embedded broker (amqtt, when ``QHSE_MQTT_URL`` is unset),
the consumer and the simulator in background threads of the current process, so readings
and alarms keep arriving while the dashboard is open.  ``LiveStream.stop`` (also run at
interpreter exit) stops the simulator, lets the consumer store and acknowledge what it
received, disconnects, and stops the embedded broker.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

import click

log = logging.getLogger(__name__)


class LiveStream:
    def __init__(self, db_url: str, settings, *, period_s: float = 5.0, excursion_every_s: float = 60.0,
                 root: str = "qhse", client_id: str = "qhse-demo-ingest"):
        self.db_url = db_url
        self.settings = settings
        self.period_s = period_s
        self.excursion_every_s = excursion_every_s
        self.root = root
        self.client_id = client_id
        self.mqtt_url: str | None = None
        self.embedded_port: int | None = None
        self.consumer = None
        self.simulator = None
        self._publisher = None
        self._sim_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._stopped = False

    def start(self) -> LiveStream:
        from .broker import probe_mqtt5, start_embedded_broker
        from .consumer import Consumer, ConsumerConfig
        from .mqtt import settings_address
        from .simulator import Simulator, connect_publisher, load_sensors

        s = self.settings
        if s.mqtt_url:
            self.mqtt_url = s.mqtt_url
        else:
            self.mqtt_url = start_embedded_broker(s.embedded_mqtt_port)
            self.embedded_port = s.embedded_mqtt_port
        addr = settings_address(self.mqtt_url, s)
        v5 = probe_mqtt5(addr)
        cfg = ConsumerConfig(mqtt_url=addr.url, mqtt_username=addr.username, mqtt_password=addr.password,
                             mqtt_ca_file=addr.ca_file, database_url=self.db_url, spool_dir=s.data_path / "spool",
                             root=self.root, share_group="qhse" if v5 else None, client_id=self.client_id,
                             mqtt_v5=v5, session_expiry_s=3600)
        self.consumer = Consumer(cfg)
        self.consumer.start()
        if not self.consumer.wait_subscribed(15):
            log.warning("the demo consumer is not subscribed yet; readings will flow once it is")
        self._publisher = connect_publisher(self.mqtt_url, mqtt_v5=v5, client_prefix="qhse-demo-sim")
        self.simulator = Simulator(load_sensors(self.db_url), self._publisher, root=self.root, period_s=self.period_s,
                                   excursion_every_s=self.excursion_every_s)
        self._sim_thread = threading.Thread(target=self._run_sim, name="demo-simulator", daemon=True)
        self._sim_thread.start()
        atexit.register(self.stop)
        return self

    def _run_sim(self) -> None:
        try:
            self.simulator.run(stop=self._stop)
        except Exception as exc:  # noqa: BLE001 - the demo goes on without live data
            log.error("simulator stopped: %s", exc)

    def stats(self) -> dict:
        st = self.consumer.stats() if self.consumer else {}
        st["published"] = self.simulator.summary.readings if self.simulator else 0
        return st

    def _drain(self, timeout_s: float) -> None:
        """Give messages still in flight (publisher -> broker -> consumer) time to be stored."""
        if self.consumer is None or self.simulator is None:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            st = self.consumer.stats()
            if st.get("readings", 0) + st.get("dead_letters", 0) >= self.simulator.summary.readings:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._sim_thread is not None:
            self._sim_thread.join(10)
        self._drain(timeout_s=5.0)
        if self._publisher is not None:
            try:
                self._publisher.disconnect()
                self._publisher.loop_stop()
            except Exception:  # noqa: BLE001
                pass
        if self.consumer is not None:
            self.consumer.stop(timeout=15)
        if self.embedded_port is not None:
            from .broker import stop_embedded_broker

            stop_embedded_broker(self.embedded_port)


def start_live_stream(db_url: str, settings, *, demo_seconds: float | None = None, **kw) -> LiveStream:
    """Start the live stream; with ``demo_seconds`` run it that long, print what arrived, and stop it."""
    stream = LiveStream(db_url, settings, **kw).start()
    click.echo(f"MQTT broker: {stream.mqtt_url}{' (embedded)' if stream.embedded_port else ''}; consumer "
               f"{stream.client_id}; simulator: {len(stream.simulator.models)} sensors every {stream.period_s:g} s, "
               f"an excursion every ~{stream.excursion_every_s:g} s")
    if demo_seconds:
        end = time.monotonic() + demo_seconds
        while time.monotonic() < end:
            time.sleep(min(2.0, max(0.0, end - time.monotonic())))
        time.sleep(0.5)
        stream.stop()
        st = stream.stats()
        click.echo(f"live stream for {demo_seconds:g} s: published {st['published']:,} readings, stored "
                   f"{st['readings']:,}, dead letters {st['dead_letters']:,}, alarms raised {st['alarms_raised']}")
    else:
        click.echo("readings and alarms keep arriving in the background until the demo stops")
    return stream
