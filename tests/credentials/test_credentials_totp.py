"""TOTP arithmetic: RFC 6238 test vectors, the one-step window, and ASCII-only code input."""

from __future__ import annotations

import base64

import pytest

from iamguard.credentials import totp

RFC_SEED = base64.b32encode(b"12345678901234567890").decode("ascii")

# RFC 6238 appendix B, SHA-1 column (8 digits).
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("moment", "expected"), RFC_VECTORS)
def test_rfc6238_sha1_vectors(moment: int, expected: str) -> None:
    assert totp.code_at(RFC_SEED, moment, digits=8) == expected


@pytest.mark.parametrize(("moment", "expected"), RFC_VECTORS)
def test_six_digit_codes_are_the_last_six_digits_of_the_rfc_values(moment: int, expected: str) -> None:
    assert totp.code_at(RFC_SEED, moment) == expected[-6:]


def test_new_seed_is_160_random_bits_in_base32() -> None:
    seeds = {totp.new_seed() for _ in range(50)}
    assert len(seeds) == 50
    for seed in seeds:
        assert len(base64.b32decode(seed)) == 20


@pytest.mark.parametrize(("code", "ok"), [
    ("123456", True),
    ("000000", True),
    ("12345", False),
    ("1234567", False),
    (" 123456", False),
    ("123456 ", False),
    ("123456\n", False),
    ("+12345", False),
    ("12 456", False),
    ("\u0661\u0662\u0663\u0664\u0665\u0666", False),  # Arabic-Indic digits: str.isdigit() accepts them, we do not
    ("\uff11\uff12\uff13\uff14\uff15\uff16", False),  # fullwidth digits
    (123456, False),
    (None, False),
    (b"123456", False),
])
def test_only_six_ascii_digits_are_well_formed(code: object, ok: bool) -> None:
    assert totp.well_formed(code) is ok


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_window_is_exactly_one_step_each_side(offset: int, accepted: bool) -> None:
    now = 1_800_000_015.0
    code = totp.code_at(RFC_SEED, now + 30 * offset)
    steps = totp.matching_steps(RFC_SEED, code, now)
    assert (totp.step_at(now) + offset in steps) is accepted


def test_consecutive_codes_give_the_second_step() -> None:
    now = 1_800_000_015.0
    step = totp.step_at(now)
    first, second = totp.code_at_step(RFC_SEED, step - 1), totp.code_at_step(RFC_SEED, step)
    assert totp.consecutive_step(RFC_SEED, first, second, now) == step
    assert totp.consecutive_step(RFC_SEED, second, first, now) is None
    assert totp.consecutive_step(RFC_SEED, first, first, now) is None
    far = totp.code_at_step(RFC_SEED, step - 5), totp.code_at_step(RFC_SEED, step - 4)
    assert totp.consecutive_step(RFC_SEED, *far, now) is None


def test_provisioning_uri_is_otpauth_with_issuer_and_no_surprises() -> None:
    uri = totp.provisioning_uri(RFC_SEED, "alice", "iamguard")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={RFC_SEED}" in uri
    assert "issuer=iamguard" in uri
    assert "digits=6" in uri or "digits" not in uri
