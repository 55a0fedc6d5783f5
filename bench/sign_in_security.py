"""Sign-in and upload hardening figures: memory of parallel sign-ins, throttling of a password
guesser, memory of a decompression-bomb upload.

    python bench/sign_in_security.py

Creates a scratch database on the PostgreSQL server of ``QHSE_TEST_DATABASE_URL`` (else
``QHSE_DATABASE_URL``), migrates it, adds one account, and runs each case in a child process,
printing its wall time and peak resident memory (``ru_maxrss``):

* 32 parallel wrong sign-ins (distinct accounts and clients, so none is throttled) with
  ``QHSE_PASSWORD_HASH_CONCURRENCY`` 32 (unbounded, as before) and 2 (the default);
* 25 wrong passwords for one account as fast as possible, then the right one;
* ``validate_photo`` on a 20000x20000 PNG bomb header.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-1"


def server_url() -> str:
    url = os.environ.get("QHSE_TEST_DATABASE_URL") or os.environ.get("QHSE_DATABASE_URL")
    if not url:
        sys.exit("set QHSE_TEST_DATABASE_URL (or QHSE_DATABASE_URL) to a PostgreSQL server URL")
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def child(case: str, url: str) -> None:
    import threading

    import sqlalchemy as sa

    from qhse.services.auth import LoginFailed, LoginThrottled, authenticate

    eng = sa.create_engine(url, pool_size=40, max_overflow=0)
    out: dict = {}
    t0 = time.perf_counter()
    if case == "parallel":
        def one(i):
            try:
                authenticate(eng, f"nobody{i}-{uuid.uuid4().hex[:6]}", "wrong-password", client=f"10.7.{i}.1")
            except LoginFailed:
                pass
        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elif case == "guesser":
        checked = throttled = 0
        for i in range(25):
            try:
                authenticate(eng, "bench.user", f"guess-{i}", client="10.8.0.1")
            except LoginThrottled:
                throttled += 1
            except LoginFailed:
                checked += 1
        try:
            authenticate(eng, "bench.user", PASSWORD, client="10.8.0.1")
            out["right_password"] = "accepted"
        except LoginThrottled as exc:
            out["right_password"] = f"refused, retry in {exc.retry_after_s} s"
        out.update(checked=checked, throttled=throttled)
    elif case == "bomb":
        from qhse.domain.uploads import UploadError
        from qhse.services.uploads import validate_photo
        from tests.unit.test_uploads import png_bomb

        data = png_bomb()
        out["file_bytes"] = len(data)
        try:
            validate_photo(data, "bomb.png")
        except UploadError as exc:
            out["refused"] = str(exc)
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out))


def run_child(case: str, url: str, **env) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_") or k.startswith("QHSE_TEST_")}
    e.update(PYTHONPATH=str(ROOT), **env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run([sys.executable, __file__, "--child", case, url], env=e, capture_output=True, text=True,
                       check=True)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res["peak_rss_mb"] = round(peak / 1024) if peak > before else f"<= {round(before / 1024)}"
    return res


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    import psycopg
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from db.engine import libpq_dsn
    from db.migrate import upgrade
    from qhse.services.auth import add_user

    server = server_url()
    name = f"qhse_bench_signin_{uuid.uuid4().hex[:8]}"
    admin = libpq_dsn(make_url(server).set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        eng = sa.create_engine(url)
        add_user(eng, username="bench.user", password=PASSWORD, role="admin", all_sites=True)
        eng.dispose()
        # The bomb first: the child's peak RSS is reported only when it exceeds earlier children's.
        print("bomb upload (20000x20000 PNG header):", run_child("bomb", url))
        print("32 parallel sign-ins, concurrency 2:", run_child("parallel", url, QHSE_PASSWORD_HASH_CONCURRENCY="2"))
        print("32 parallel sign-ins, concurrency 32 (unbounded):",
              run_child("parallel", url, QHSE_PASSWORD_HASH_CONCURRENCY="32"))
        print("25 wrong passwords then the right one:", run_child("guesser", url))
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
