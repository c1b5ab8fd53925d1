"""MFA-02 across processes: two processes sharing one SQLite file race the same TOTP code, and the
store's conditional UPDATE lets exactly one of them through."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from iamguard.clock import FrozenClock
from iamguard.credentials import AccessKeyCredentials, Credentials, InvalidAuthenticationCode, Throttled
from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore
from tests.credentials.conftest import TENANT, build_env


def _race(path: str, settings: dict[str, Any], moment: float, key: tuple[str, str], code: str,
          barrier: Any, results: Any) -> None:
    clock = FrozenClock(moment)
    store = SQLiteStore(path)
    directory = Directory(store, TENANT, clock=clock)
    creds = Credentials(directory, clock=clock, **settings)
    barrier.wait(timeout=30)
    try:
        creds.get_session_token(AccessKeyCredentials(*key), mfa_code=code)
        results.put("ok")
    except (InvalidAuthenticationCode, Throttled):
        results.put("refused")
    except Exception as exc:  # pragma: no cover - surfaced by the assertion in the test
        results.put(f"error {type(exc).__name__}: {exc}")
    finally:
        store.close()


def test_two_processes_accept_one_code_once(tmp_path: Path) -> None:
    env = build_env("sqlite", tmp_path)
    key = env.user_with_key()
    device = env.enabled_device()
    code = env.code(device)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_race, args=(env.store.path, env.settings, env.clock.time(),
                                            (key.access_key_id, key.secret_access_key), code, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["ok", "refused"]
    # and the parent, a third process view of the same file, cannot reuse it either
    try:
        env.creds.get_session_token(key, mfa_code=code)
        replay = "ok"
    except InvalidAuthenticationCode:
        replay = "refused"
    assert replay == "refused"
    env.store.close()
