"""TOTP arithmetic (RFC 6238 on top of pyotp): seeds, steps, codes and the matching window.

Fixed parameters, documented: SHA-1, 30-second steps, 6 digits, window of exactly one step on
each side of the current one (MFA-03). Codes are accepted only as six ASCII digits (MFA-05).
Matching compares every candidate step in constant time and reports every step that matched;
whether a step may still be used is the store's decision (`consume_totp_step`).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

import pyotp

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
SEED_BYTES = 20  # 160 bits, RFC 4226's recommended length
CODE = re.compile(r"[0-9]{6}", re.ASCII)


def new_seed() -> str:
    """A base32 seed (32 characters) for authenticator apps."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")


def well_formed(code: object) -> bool:
    return isinstance(code, str) and CODE.fullmatch(code) is not None


def step_at(moment: float) -> int:
    return int(moment // STEP_SECONDS)


def code_at_step(seed: str, step: int, digits: int = DIGITS) -> str:
    return pyotp.TOTP(seed, digits=digits, interval=STEP_SECONDS).generate_otp(step)


def code_at(seed: str, moment: float, digits: int = DIGITS) -> str:
    return code_at_step(seed, step_at(moment), digits)


def matching_steps(seed: str, code: str, moment: float, window: int = WINDOW) -> list[int]:
    """Steps within the window whose code equals `code`, ascending. Every candidate is computed
    and compared, so the time taken does not depend on which one (if any) matched."""
    current = step_at(moment)
    found = []
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(code_at_step(seed, step).encode("ascii"), code.encode("ascii")):
            found.append(step)
    return found


def consecutive_step(seed: str, first: str, second: str, moment: float) -> int | None:
    """For enrolment: the step of `second` when `first` and `second` are the codes of two
    consecutive steps and `second` lies within the window around now; None otherwise."""
    current = step_at(moment)
    match = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        first_ok = hmac.compare_digest(code_at_step(seed, step - 1).encode("ascii"), first.encode("ascii"))
        second_ok = hmac.compare_digest(code_at_step(seed, step).encode("ascii"), second.encode("ascii"))
        if first_ok and second_ok and match is None:
            match = step
    return match


def provisioning_uri(seed: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer)
