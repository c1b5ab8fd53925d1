"""`iamguard validate` and `iamguard simulate` on policy files; the exit-status and error-line contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import run_main, run_process, write_json

V2012 = "2012-10-17"
ORDER = "arn:app:orders:us-east-1:123456789012:order/42"
ALICE = "arn:aws:iam::123456789012:user/alice"
READ_ORDERS = {"Version": V2012, "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "arn:app:orders:us-east-1:123456789012:order/*"}]}
ADMIN = {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
BROKEN = {"Version": V2012, "Statement": [{"Effect": "allow", "Action": "orders:GetOrder", "Resource": "*"}]}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {name: write_json(tmp_path / f"{name}.json", document)
            for name, document in {"read": READ_ORDERS, "admin": ADMIN, "broken": BROKEN}.items()}


# --- through the real program (the console script, in a subprocess) -----------------------------

def test_validate_process_exit_status_follows_fail_on(files: dict[str, str]) -> None:
    clean = run_process("validate", files["read"])
    assert (clean.code, clean.err) == (0, "")
    assert clean.out.splitlines()[0].endswith("read.json: no findings")
    risky = run_process("validate", files["admin"], files["read"])
    assert risky.code == 1
    assert "SECURITY_WARNING ALLOW_STAR_ON_STAR at /Statement/0" in risky.out
    assert risky.out.strip().endswith("1 finding in 2 files")
    relaxed = run_process("validate", files["admin"], "--fail-on", "ERROR", "--output", "json")
    assert relaxed.code == 0
    assert [finding["code"] for finding in relaxed.json()[0]["findings"]] == ["ALLOW_STAR_ON_STAR"]


def test_validate_process_reads_stdin_and_reports_parser_errors_with_pointers() -> None:
    outcome = run_process("validate", "-", "--output", "json", stdin=json.dumps(BROKEN))
    assert outcome.code == 1
    (report,) = outcome.json()
    assert report["file"] == "<stdin>"
    assert report["findings"][0] == {
        "severity": "ERROR", "code": "INVALID_EFFECT", "pointer": "/Statement/0/Effect",
        "message": report["findings"][0]["message"]}
    assert "case-sensitive" in report["findings"][0]["message"]


def test_process_errors_are_one_line_with_status_2(tmp_path: Path) -> None:
    missing = run_process("validate", str(tmp_path / "nope.json"))
    assert (missing.code, missing.out) == (2, "")
    assert missing.err.count("\n") == 1 and "cannot read" in missing.err and "Traceback" not in missing.err
    usage = run_process("validate", "--fail-on", "FATAL", "x.json")
    assert usage.code == 2 and usage.err.count("\n") == 1 and "--fail-on" in usage.err


def test_simulate_process_allow_deny_and_explanations(files: dict[str, str]) -> None:
    allowed = run_process("simulate", "--policy", files["read"], "--principal-arn", ALICE,
                          "--action", "orders:GetOrder", "--resource", ORDER)
    assert allowed.code == 0, allowed.err
    assert allowed.out.startswith(f"Allow: {ALICE} -> orders:GetOrder on {ORDER}")
    assert "read.json statement #0 (Allow)" in allowed.out
    denied = run_process("simulate", "--policy", files["read"], "--action", "orders:GetOrder",
                         "--action", "orders:DeleteOrder", "--resource", ORDER, "--output", "json")
    assert denied.code == 1
    records = denied.json()
    assert [(r["action"], r["decision"], r["allowed"]) for r in records] == [
        ("orders:GetOrder", "Allow", True), ("orders:DeleteOrder", "ImplicitDeny", False)]
    assert "does not match" in records[1]["explanation"]


def test_simulate_process_invalid_policy_is_one_line_with_pointer(files: dict[str, str]) -> None:
    outcome = run_process("simulate", "--policy", files["broken"], "--action", "orders:GetOrder")
    assert outcome.code == 2 and outcome.out == ""
    assert outcome.err.count("\n") == 1
    assert "broken.json" in outcome.err and "/Statement/0/Effect" in outcome.err


# --- in-process (same code path, no interpreter start-up) ------------------------------------------

def test_validate_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    keyed = write_json(tmp_path / "keyed.json", {"Version": V2012, "Statement": [{
        "Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
        "Condition": {"StringEquals": {"app:Owner": "alice"}}}]})
    warned = run_main(capsys, "validate", keyed, "--fail-on", "warning")
    assert warned.code == 1 and "UNKNOWN_CONDITION_KEY" in warned.out
    declared = run_main(capsys, "validate", keyed, "--fail-on", "WARNING", "--declared-key", "app:*")
    assert declared.code == 0 and "no findings" in declared.out
    hidden = run_main(capsys, "validate", keyed, "--min-severity", "SECURITY_WARNING", "--fail-on", "WARNING")
    assert hidden.code == 1 and "UNKNOWN_CONDITION_KEY" not in hidden.out


def test_validate_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    trust = json.dumps({"Version": V2012, "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]})
    as_trust = run_main(capsys, "validate", trust, "--kind", "trust", "--output", "json")
    assert [f["code"] for f in json.loads(as_trust.out)[0]["findings"]] == ["PRINCIPAL_STAR_WITHOUT_CONDITION"]
    as_identity = run_main(capsys, "validate", trust)
    assert as_identity.code == 1 and "PROHIBITED_ELEMENT" in as_identity.out and "MISSING_ELEMENT" in as_identity.out


def test_validate_invalid_json_is_a_finding_not_a_crash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": [')
    outcome = run_main(capsys, "validate", str(bad))
    assert outcome.code == 1 and "ERROR INVALID_JSON at /" in outcome.out


@pytest.mark.parametrize(("context", "allowed"), [
    (["aws:SourceIp=203.0.113.9"], True),
    (["aws:SourceIp=198.51.100.1"], False),
    ([], False),
])
def test_simulate_context_values(capsys: pytest.CaptureFixture[str], context: list[str], allowed: bool) -> None:
    policy = json.dumps({"Version": V2012, "Statement": [{
        "Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]})
    args = [arg for entry in context for arg in ("--context", entry)]
    outcome = run_main(capsys, "simulate", "--policy", policy, "--action", "orders:GetOrder", *args,
                       "--output", "json")
    (record,) = json.loads(outcome.out)
    assert record["allowed"] is allowed and outcome.code == (0 if allowed else 1)
    assert record["missing_context_keys"] == ([] if context else ["aws:sourceip"])


def test_simulate_multivalued_context(capsys: pytest.CaptureFixture[str]) -> None:
    policy = json.dumps({"Version": V2012, "Statement": [{
        "Effect": "Allow", "Action": "orders:TagOrder", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]},
                      "Null": {"aws:TagKeys": "false"}}}]})

    def decide(*context: str) -> bool:
        args = [arg for entry in context for arg in ("--context", entry)]
        return run_main(capsys, "simulate", "--policy", policy, "--action", "orders:TagOrder", *args).code == 0

    assert decide("aws:TagKeys=team,env")
    assert decide("aws:TagKeys=team,")
    assert decide("aws:TagKeys=team", "aws:TagKeys=env")
    assert not decide("aws:TagKeys=team,owner")


def test_simulate_layers_boundary_resource_and_session(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       files: dict[str, str]) -> None:
    deny_delete = write_json(tmp_path / "boundary.json", {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Action": "orders:List*", "Resource": "*"}]})
    capped = run_main(capsys, "simulate", "--policy", files["admin"], "--permissions-boundary", deny_delete,
                      "--action", "orders:GetOrder", "--action", "orders:ListOrders", "--output", "json")
    assert [r["allowed"] for r in json.loads(capped.out)] == [False, True] and capped.code == 1
    bucket = write_json(tmp_path / "resource.json", {"Version": V2012, "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "orders:GetOrder", "Resource": ORDER}]})
    granted = run_main(capsys, "simulate", "--resource-policy", bucket, "--principal-arn", ALICE, "--no-store",
                       "--action", "orders:GetOrder", "--resource", ORDER)
    assert granted.code == 0 and "resource policy" in granted.out
    session = write_json(tmp_path / "session.json", READ_ORDERS)
    narrowed = run_main(capsys, "simulate", "--policy", files["admin"], "--session-policy", session,
                        "--action", "orders:DeleteOrder", "--resource", ORDER)
    assert narrowed.code == 1 and "no session policy does" in narrowed.out


@pytest.mark.parametrize(("args", "message"), [
    (["simulate", "--action", "a:b"], "give policy documents"),
    (["simulate", "--policy", "policy.json", "--action", "a:b"], "expected file://PATH"),
    (["simulate", "--policy", "file://", "--action", "a:b"], "file:// needs a path"),
    (["simulate", "--policy", "-", "--session-policy", "-", "--action", "a:b"], "only once"),
    (["simulate", "--policy", '{"Statement": []}', "--action", "a:b", "--context", "novalue"], "KEY=VALUE"),
    (["simulate", "--policy", "{}"], "--action"),
    (["frobnicate"], "invalid choice"),
    ([], "choose a command"),
])
def test_usage_and_input_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    outcome = run_main(capsys, *args, stdin=json.dumps(READ_ORDERS))
    assert outcome.code == 2 and outcome.out == ""
    assert outcome.err.startswith("iamguard: error: ") and outcome.err.count("\n") == 1
    assert message in outcome.err


def test_help_and_version_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    helped = run_main(capsys, "--help")
    assert helped.code == 0 and "validate" in helped.out and "simulate" in helped.out
    version = run_main(capsys, "--version")
    assert version.code == 0 and version.out.startswith("iamguard ")


def test_unexpected_failures_are_one_line_with_status_2(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from iamguard.cli import validate

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(validate, "validate_policy", explode)
    outcome = run_main(capsys, "validate", json.dumps(READ_ORDERS))
    assert outcome.code == 2
    assert outcome.err == "iamguard: error: unexpected RuntimeError: disk on fire; second line\n"
