"""`make demo`: the printed instructions and the flow they describe, run against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from examples.common import seed
from examples.demo import instructions

ROOT = Path(__file__).resolve().parents[2]


def test_instructions_show_an_allow_a_deny_and_a_step_up(tmp_path: Path) -> None:
    seeded = seed(tmp_path / "demo.db")
    text = instructions(seeded, "http://127.0.0.1:8123")
    manager, reader = seeded.users["manager"], seeded.users["reader"]
    assert "curl -i http://127.0.0.1:8123/orders -H \"Authorization: Bearer $READER\"" in text
    assert "curl -i -X DELETE http://127.0.0.1:8123/orders/1001" in text
    assert "/auth/step-up" in text and "insufficient_user_authentication" in text
    assert manager.totp_seed is not None and f"pyotp.TOTP('{manager.totp_seed}').now()" in text
    assert reader.access_key_id in text and reader.secret_access_key in text


def test_demo_self_test_runs_the_flow_on_uvicorn() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--self-test", "--port", "0"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines == [
        "allow: 200",
        "deny: 403",
        'step-up challenge: 401 Bearer error="insufficient_user_authentication", '
        'error_description="a fresh multi-factor authentication is required", max_age=300',
        "delete after step-up: 204",
    ]
    assert '"reason":"implicit_deny"' in result.stderr and '"reason":"mfa_required"' in result.stderr
