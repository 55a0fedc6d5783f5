"""Sign-in throttling (per account, per client, across processes), bounded hash checks, server-side sessions."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.queries import users
from qhse.services import auth
from qhse.services.auth import (
    LoginFailed,
    LoginThrottled,
    add_user,
    authenticate,
    backoff_s,
    end_session,
    redeem_code,
    session_alive,
    session_from_token,
    set_active,
    set_password,
    start_session,
)

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def fresh_user(dash_engine, dash_users, request):
    name = "t." + request.node.name.replace("test_", "")[:40].replace("_", "-")
    if users.get_by_username(dash_engine, name) is None:
        add_user(dash_engine, username=name, password=PASSWORD, role="worker", site_codes=["SZ-ELEC"])
    with dash_engine.begin() as c:
        c.execute(sa.text("DELETE FROM login_attempt WHERE username = :u"), {"u": name})
    return name


def test_backoff_grows_and_is_capped():
    assert [backoff_s(n, allowed=5, base_s=2, max_s=60) for n in (0, 4, 5, 6, 7, 10)] == [0, 0, 2, 4, 8, 60]


def test_account_is_throttled_after_repeated_failures_even_with_the_right_password(dash_engine, fresh_user):
    for _ in range(5):
        with pytest.raises(LoginFailed) as e:
            authenticate(dash_engine, fresh_user, "wrong-password", client="10.0.0.1")
        assert not isinstance(e.value, LoginThrottled)
    with pytest.raises(LoginThrottled) as e:  # the right password, but inside the back-off
        authenticate(dash_engine, fresh_user, PASSWORD, client="10.0.0.2")
    assert e.value.retry_after_s >= 1
    # ... also from another client: the limit is on the account.
    with pytest.raises(LoginThrottled):
        authenticate(dash_engine, fresh_user, PASSWORD, client="10.9.9.9")
    with dash_engine.connect() as c:
        reasons = c.execute(sa.text("SELECT detail->>'reason' FROM audit_log WHERE username = :u "
                                    "AND action = 'login_failed' ORDER BY id"), {"u": fresh_user}).scalars().all()
    assert reasons.count("bad password") == 5 and reasons[-2:] == ["throttled", "throttled"]
    # Once the back-off has passed, the right password is accepted and the count starts again.
    with dash_engine.begin() as c:
        c.execute(sa.text("UPDATE login_attempt SET at = at - interval '1 hour' WHERE username = :u"),
                  {"u": fresh_user})
    assert authenticate(dash_engine, fresh_user, PASSWORD, client="10.0.0.2").username == fresh_user


def test_throttling_holds_across_processes(dash_engine, dash_url, fresh_user):
    """Failures made by another process (another dashboard replica) count here too."""
    code = (f"from qhse.services.auth import authenticate, LoginFailed\n"
            f"import sqlalchemy as sa\n"
            f"e = sa.create_engine({dash_url!r})\n"
            f"for _ in range(5):\n"
            f"    try: authenticate(e, {fresh_user!r}, 'wrong-password', client='10.1.1.1')\n"
            f"    except LoginFailed: pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_") or k.startswith("QHSE_TEST_")}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=120)
    with pytest.raises(LoginThrottled):
        authenticate(dash_engine, fresh_user, PASSWORD, client="10.1.1.2")


def test_client_is_throttled_across_accounts(dash_engine, dash_users):
    client = "198.51.100.7"
    with dash_engine.begin() as c:
        c.execute(sa.text("DELETE FROM login_attempt WHERE client = :c"), {"c": client})
    for i in range(20):  # 4x the per-account limit, each on a different (unknown) account
        with pytest.raises(LoginFailed) as e:
            authenticate(dash_engine, f"spray{i}", "whatever-123", client=client)
        assert not isinstance(e.value, LoginThrottled)
    with pytest.raises(LoginThrottled):
        authenticate(dash_engine, "admin", PASSWORD, client=client)
    assert authenticate(dash_engine, "admin", PASSWORD, client="198.51.100.8").username == "admin"


def test_parallel_attempts_are_bounded_and_counted(dash_engine, fresh_user, monkeypatch):
    """32 parallel wrong passwords: at most QHSE_PASSWORD_HASH_CONCURRENCY argon2 checks at a time,
    and the pending attempts count at once, so most are refused without any hash check."""
    from qhse.settings import reset_settings_cache

    monkeypatch.setenv("QHSE_PASSWORD_HASH_CONCURRENCY", "2")
    reset_settings_cache()
    running, peak, checks, lock = [0], [0], [0], threading.Lock()
    real = auth.verify_password

    def counting(h, p):
        with lock:
            running[0] += 1
            checks[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(h, p)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(auth, "verify_password", counting)
    outcomes = []

    def attempt(i):
        try:
            authenticate(dash_engine, fresh_user, f"wrong-{i}", client=f"203.0.113.{i}")
        except LoginThrottled:
            outcomes.append("throttled")
        except LoginFailed:
            outcomes.append("failed")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    reset_settings_cache()
    assert len(outcomes) == 32
    assert peak[0] <= 2
    assert outcomes.count("failed") == 5 and checks[0] == 5  # the rest never reached argon2


def test_session_lifecycle(dash_engine, fresh_user):
    user = users.get_by_username(dash_engine, fresh_user)
    sid, code = start_session(dash_engine, user, client="local")
    assert redeem_code(dash_engine, code, client="192.0.2.1") is None  # another client: refused
    token = redeem_code(dash_engine, code, client="local")
    assert token and redeem_code(dash_engine, code, client="local") is None  # one time only
    hit = session_from_token(dash_engine, token)
    assert hit is not None and hit[0] == sid and hit[1].username == fresh_user
    with dash_engine.connect() as c:
        row = c.execute(sa.text("SELECT token_hash, code_hash FROM user_session WHERE id = :i"), {"i": sid}).one()
    assert row.token_hash != token and len(row.token_hash) == 64 and row.code_hash is None

    # Idle timeout.
    with dash_engine.begin() as c:
        c.execute(sa.text("UPDATE user_session SET last_seen_at = now() - interval '31 minutes' WHERE id = :i"),
                  {"i": sid})
    assert session_from_token(dash_engine, token) is None and not session_alive(dash_engine, sid)

    # Absolute timeout, however active.
    sid2, code2 = start_session(dash_engine, user)
    token2 = redeem_code(dash_engine, code2, client=None)
    with dash_engine.begin() as c:
        c.execute(sa.text("UPDATE user_session SET expires_at = now() - interval '1 second' WHERE id = :i"),
                  {"i": sid2})
    assert session_from_token(dash_engine, token2) is None

    # Revoked on sign-out, on a password change and when the account is disabled.
    sid3, code3 = start_session(dash_engine, user)
    token3 = redeem_code(dash_engine, code3)
    assert session_alive(dash_engine, sid3)
    end_session(dash_engine, token=token3)
    assert session_from_token(dash_engine, token3) is None
    sid4, code4 = start_session(dash_engine, user)
    token4 = redeem_code(dash_engine, code4)
    set_password(dash_engine, fresh_user, "a-changed-password")
    assert session_from_token(dash_engine, token4) is None and not session_alive(dash_engine, sid4)
    _sid5, code5 = start_session(dash_engine, user)
    token5 = redeem_code(dash_engine, code5)
    admin = users.get_by_username(dash_engine, "admin")
    from qhse.services.access import scope_for_user

    set_active(dash_engine, scope_for_user(admin), user.id, False)
    assert session_from_token(dash_engine, token5) is None
    set_active(dash_engine, scope_for_user(admin), user.id, True)
    set_password(dash_engine, fresh_user, PASSWORD)


def test_expired_code_is_refused(dash_engine, fresh_user):
    user = users.get_by_username(dash_engine, fresh_user)
    sid, code = start_session(dash_engine, user)
    with dash_engine.begin() as c:
        c.execute(sa.text("UPDATE user_session SET code_expires_at = now() - interval '1 second' WHERE id = :i"),
                  {"i": sid})
    assert redeem_code(dash_engine, code) is None


def test_a_revoked_session_signs_the_dashboard_out(dash_env, dash_engine, fresh_user):
    from .helpers import open_page, texts

    user = users.get_by_username(dash_engine, fresh_user)
    sid, _code = start_session(dash_engine, user)
    at = open_page(user.id, state={"auth.session_id": sid})
    assert "Signed in as" in texts(at)
    end_session(dash_engine, session_id=sid)
    at.run()
    assert "Signed in as" not in texts(at) and "auth.user_id" not in at.session_state


def test_ended_sessions_are_dropped_after_a_day(dash_engine, fresh_user):
    user = users.get_by_username(dash_engine, fresh_user)
    old, _ = start_session(dash_engine, user)
    with dash_engine.begin() as c:
        c.execute(sa.text("UPDATE user_session SET revoked_at = now() - interval '2 days' WHERE id = :i"), {"i": old})
    start_session(dash_engine, user)
    with dash_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM user_session WHERE id = :i"), {"i": old}).scalar() == 0
