"""The terminal QR encoder: published vectors for its parts, and a decode of whole symbols."""

from __future__ import annotations

import pytest

from iamguard.cli import qr

FINDER = [
    [True] * 7,
    [True, False, False, False, False, False, True],
    [True, False, True, True, True, False, True],
    [True, False, True, True, True, False, True],
    [True, False, True, True, True, False, True],
    [True, False, False, False, False, False, True],
    [True] * 7,
]


def test_reed_solomon_matches_the_published_1m_example() -> None:
    # "HELLO WORLD" as version 1-M, from the widely used worked example of the standard.
    data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
    assert qr.reed_solomon(data, 10) == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23]


@pytest.mark.parametrize(("level", "mask", "bits"), [
    ("L", 0, "111011111000100"), ("L", 4, "110011000101111"), ("M", 0, "101010000010010"),
])
def test_format_information_matches_the_standard_table(level: str, mask: int, bits: str) -> None:
    assert format(qr.format_bits(level, mask), "015b") == bits


def test_version_information_matches_the_standard_table() -> None:
    assert format(qr.version_bits(7), "018b") == "000111110010010100"


def _read_format(matrix: qr.Matrix) -> int:
    """The first copy of the format bits, read back from its documented positions."""
    positions = [(8, index) for index in range(6)] + [(8, 7), (8, 8), (7, 8)] + \
        [(14 - index, 8) for index in range(9, 15)]
    return sum(1 << index for index, (x, y) in enumerate(positions) if matrix[y][x])


def _decode(matrix: qr.Matrix, level: str) -> bytes:
    size = len(matrix)
    version = (size - 17) // 4
    fmt = _read_format(matrix)
    (mask,) = [m for m in range(8) if qr.format_bits(level, m) == fmt]
    reserved = qr._Symbol(version).reserved
    masks = qr._MASKS
    bits: list[int] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = (right + 1) & 2 == 0
        for step in range(size):
            y = size - 1 - step if upward else step
            for x in (right, right - 1):
                if not reserved[y][x]:
                    bits.append(int(matrix[y][x] ^ masks[mask](x, y)))
        right -= 2
    codewords = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits) - 7, 8)]
    layout = qr._LAYOUT[level][version - 1]
    sizes = [size for count, size in layout.groups for _ in range(count)]
    blocks: list[list[int]] = [[] for _ in sizes]
    position = 0
    for index in range(max(sizes)):
        for block, block_size in zip(blocks, sizes, strict=True):
            if index < block_size:
                block.append(codewords[position])
                position += 1
    for _ in range(layout.ec_per_block):
        for block in blocks:
            block.append(codewords[position])
            position += 1
    data: list[int] = []
    for block, block_size in zip(blocks, sizes, strict=True):
        assert qr.reed_solomon(block[:block_size], layout.ec_per_block) == block[block_size:]
        data.extend(block[:block_size])
    stream = "".join(format(byte, "08b") for byte in data)
    assert stream[:4] == "0100"
    count_bits = 8 if version < 10 else 16
    length = int(stream[4:4 + count_bits], 2)
    start = 4 + count_bits
    return bytes(int(stream[start + 8 * i:start + 8 * i + 8], 2) for i in range(length))


@pytest.mark.parametrize(("payload", "level", "version"), [
    ("hi", "L", 1),
    ("otpauth://totp/iamguard:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=iamguard", "M", 6),
    ("otpauth://totp/iamguard%20123456789012:alice?secret=" + "A" * 32 + "&issuer=iamguard%20123456789012"
     "&algorithm=SHA1&digits=6&period=30", "L", 7),
    ("x" * 250, "L", 10),
])
def test_symbols_decode_back_to_their_payload(payload: str, level: str, version: int) -> None:
    matrix = qr.encode(payload, level)
    assert len(matrix) == 17 + 4 * version
    for x0, y0 in ((0, 0), (len(matrix) - 7, 0), (0, len(matrix) - 7)):
        assert [row[x0:x0 + 7] for row in matrix[y0:y0 + 7]] == FINDER
    assert [matrix[6][x] for x in range(8, len(matrix) - 8)] == [x % 2 == 0 for x in range(8, len(matrix) - 8)]
    assert _decode(matrix, level) == payload.encode()


def test_too_long_payloads_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        qr.encode("x" * 300, "L")


def test_render_draws_two_rows_per_line_with_a_quiet_zone() -> None:
    matrix = qr.encode("hi")
    text = qr.render(matrix, quiet_zone=2)
    lines = text.splitlines()
    assert len(lines) == (21 + 4 + 1) // 2 and {len(line) for line in lines} == {25}
    assert lines[0] == "\u2588" * 25  # the quiet zone is light
    assert set(text) <= {"\u2588", "\u2580", "\u2584", " ", "\n"}
