"""Two OS processes on one SQLite file (security spec CACHE-02): a revocation made by one process
is enforced by the other within the cache bound (1 s by default)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore
from tests.directory.helpers import TENANT, allow

REPO = Path(__file__).resolve().parents[2]
BOUND = 1.0
SLACK = 0.5

# The enforcing process: decides in a tight loop and reports each change of decision with the
# time it saw it. It stops after the second change (allow -> deny -> allow) or after 20 s.
WORKER = r"""
import sys, time
from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore

directory = Directory(SQLiteStore(sys.argv[1]), sys.argv[2])
principal = sys.argv[3]
last, changes, deadline = None, 0, time.monotonic() + 20
while time.monotonic() < deadline and changes < 3:
    allowed = directory.authorize(principal, "s3:GetObject", "arn:aws:s3:::bucket/key").allowed
    if allowed != last:
        print(f"{'allow' if allowed else 'deny'} {time.time():.6f}", flush=True)
        last, changes = allowed, changes + 1
    time.sleep(0.002)
"""


def _next_line(process: subprocess.Popen[str], deadline: float) -> tuple[str, float]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the worker exited early: {process.stderr.read() if process.stderr else ''}"
    assert time.time() < deadline, "the worker took too long"
    verdict, moment = line.split()
    return verdict, float(moment)


def test_a_revocation_in_one_process_is_enforced_by_another_within_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteStore(path)
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    user = directory.create_user("alice")
    policy = directory.create_policy("Read", allow())
    directory.attach_user_policy("alice", policy.arn)

    environment = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(path), TENANT, user.arn], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=environment)
    try:
        verdict, _ = _next_line(worker, time.time() + 30)
        assert verdict == "allow"  # the worker has the principal cached now

        revoked_at = time.time()
        directory.detach_user_policy("alice", policy.arn)
        verdict, seen_at = _next_line(worker, revoked_at + 10)
        assert verdict == "deny"
        assert seen_at - revoked_at <= BOUND + SLACK, f"revocation took {seen_at - revoked_at:.3f}s"

        granted_at = time.time()
        directory.attach_user_policy("alice", policy.arn)
        verdict, seen_at = _next_line(worker, granted_at + 10)
        assert verdict == "allow"
        assert seen_at - granted_at <= BOUND + SLACK, f"re-grant took {seen_at - granted_at:.3f}s"
    finally:
        worker.kill()
        worker.wait(timeout=10)
        if worker.stdout:
            worker.stdout.close()
        if worker.stderr:
            worker.stderr.close()


def test_writes_from_two_processes_serialize(tmp_path: Path) -> None:
    """Both processes create users concurrently; every write lands and the names stay unique."""
    path = tmp_path / "shared.db"
    store = SQLiteStore(path)
    Directory.create_tenant(store, TENANT)
    writer = r"""
import sys
from iamguard.directory import Directory, EntityAlreadyExistsError
from iamguard.store.sqlite import SQLiteStore

directory = Directory(SQLiteStore(sys.argv[1]), sys.argv[2])
created = 0
for index in range(40):
    try:
        directory.create_user(f"user{index}")
        created += 1
    except EntityAlreadyExistsError:
        pass
print(created)
"""
    environment = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    workers = [subprocess.Popen([sys.executable, "-c", writer, str(path), TENANT], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=environment) for _ in range(2)]
    outputs = [worker.communicate(timeout=60) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    created = sum(int(out) for out, _ in outputs)
    directory = Directory(store, TENANT)
    assert created == 40
    assert len(directory.list_users(max_items=1000).items) == 40
