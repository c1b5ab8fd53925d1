"""A small QR code encoder (ISO/IEC 18004, model 2) for MFA provisioning URIs in a terminal.

Scope is deliberately narrow: byte mode, error correction level L or M, versions 1 to 10 (up to
271 bytes at level L), which covers every `otpauth://` URI iamguard produces. The output is a
matrix of booleans (True = dark module) and a renderer that draws two module rows per text line
with Unicode half blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Matrix = list[list[bool]]


@dataclass(frozen=True)
class _Blocks:
    ec_per_block: int
    groups: tuple[tuple[int, int], ...]  # (number of blocks, data codewords per block)

    @property
    def data_codewords(self) -> int:
        return sum(count * size for count, size in self.groups)


# Error correction layout per version (1-10) and level, from the standard's table 9.
_LAYOUT: dict[str, tuple[_Blocks, ...]] = {
    "L": (
        _Blocks(7, ((1, 19),)), _Blocks(10, ((1, 34),)), _Blocks(15, ((1, 55),)), _Blocks(20, ((1, 80),)),
        _Blocks(26, ((1, 108),)), _Blocks(18, ((2, 68),)), _Blocks(20, ((2, 78),)), _Blocks(24, ((2, 97),)),
        _Blocks(30, ((2, 116),)), _Blocks(18, ((2, 68), (2, 69))),
    ),
    "M": (
        _Blocks(10, ((1, 16),)), _Blocks(16, ((1, 28),)), _Blocks(26, ((1, 44),)), _Blocks(18, ((2, 32),)),
        _Blocks(24, ((2, 43),)), _Blocks(16, ((4, 27),)), _Blocks(18, ((4, 31),)), _Blocks(22, ((2, 38), (2, 39))),
        _Blocks(22, ((3, 36), (2, 37))), _Blocks(26, ((4, 43), (1, 44))),
    ),
}
_FORMAT_LEVEL_BITS = {"L": 0b01, "M": 0b00}
_ALIGNMENT_CENTRES = (
    (), (6, 18), (6, 22), (6, 26), (6, 30), (6, 34), (6, 22, 38), (6, 24, 42), (6, 26, 46), (6, 28, 50),
)
MAX_VERSION = len(_ALIGNMENT_CENTRES)


# --- Reed-Solomon over GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1 -------------------

_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _power in range(255, 512):
    _EXP[_power] = _EXP[_power - 255]


def _multiply(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _generator(degree: int) -> list[int]:
    """Coefficients (highest power first, leading 1 omitted) of prod(x - a^i), i < degree."""
    poly = [1]
    for index in range(degree):
        nxt = [0] * (len(poly) + 1)
        for position, coefficient in enumerate(poly):
            nxt[position] ^= coefficient
            nxt[position + 1] ^= _multiply(coefficient, _EXP[index])
        poly = nxt
    return poly[1:]


def reed_solomon(data: Sequence[int], degree: int) -> list[int]:
    """The `degree` error correction codewords of one block."""
    generator = _generator(degree)
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = [*remainder[1:], 0]
        for index, coefficient in enumerate(generator):
            remainder[index] ^= _multiply(coefficient, factor)
    return remainder


# --- bit stream ----------------------------------------------------------------------------------

def _codewords(payload: bytes, version: int, level: str) -> list[int]:
    layout = _LAYOUT[level][version - 1]
    count_bits = 8 if version < 10 else 16
    bits: list[int] = []

    def put(value: int, width: int) -> None:
        bits.extend((value >> shift) & 1 for shift in range(width - 1, -1, -1))

    put(0b0100, 4)  # byte mode
    put(len(payload), count_bits)
    for byte in payload:
        put(byte, 8)
    capacity = layout.data_codewords * 8
    put(0, min(4, capacity - len(bits)))  # terminator
    put(0, -len(bits) % 8)
    data = [int("".join(map(str, bits[index:index + 8])), 2) for index in range(0, len(bits), 8)]
    pad = (0xEC, 0x11)
    data.extend(pad[index % 2] for index in range(layout.data_codewords - len(data)))

    blocks: list[list[int]] = []
    position = 0
    for count, size in layout.groups:
        for _ in range(count):
            blocks.append(data[position:position + size])
            position += size
    ec_blocks = [reed_solomon(block, layout.ec_per_block) for block in blocks]
    result = [block[index] for index in range(max(len(block) for block in blocks)) for block in blocks
              if index < len(block)]
    result.extend(block[index] for index in range(layout.ec_per_block) for block in ec_blocks)
    return result


def choose_version(length: int, level: str) -> int:
    for version in range(1, MAX_VERSION + 1):
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * length <= _LAYOUT[level][version - 1].data_codewords * 8:
            return version
    raise ValueError(f"{length} bytes do not fit a version {MAX_VERSION} QR code at level {level}")


# --- the symbol ----------------------------------------------------------------------------------

def _bch(value: int, generator: int, degree: int) -> int:
    remainder = value << degree
    for shift in range(remainder.bit_length() - 1, degree - 1, -1):
        if remainder >> shift & 1:
            remainder ^= generator << (shift - degree)
    return (value << degree) | remainder


def format_bits(level: str, mask: int) -> int:
    return _bch(_FORMAT_LEVEL_BITS[level] << 3 | mask, 0x537, 10) ^ 0x5412


def version_bits(version: int) -> int:
    return _bch(version, 0x1F25, 12)


_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)


class _Symbol:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = 17 + 4 * version
        self.dark: Matrix = [[False] * self.size for _ in range(self.size)]
        self.reserved: Matrix = [[False] * self.size for _ in range(self.size)]
        self._draw_function_patterns()

    def set(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.reserved[y][x] = True

    def _draw_function_patterns(self) -> None:
        size = self.size
        for index in range(size):  # timing patterns
            self.set(6, index, index % 2 == 0)
            self.set(index, 6, index % 2 == 0)
        for x, y in ((3, 3), (size - 4, 3), (3, size - 4)):  # finder patterns with separators
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    if 0 <= x + dx < size and 0 <= y + dy < size:
                        distance = max(abs(dx), abs(dy))
                        self.set(x + dx, y + dy, distance not in (2, 4))
        centres = _ALIGNMENT_CENTRES[self.version - 1]
        last = len(centres) - 1
        for i, cx in enumerate(centres):
            for j, cy in enumerate(centres):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue  # those corners hold finder patterns
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(0, "L")  # reserve the format areas; overwritten once the mask is chosen
        if self.version >= 7:
            bits = version_bits(self.version)
            for index in range(18):
                dark = bool(bits >> index & 1)
                a, b = size - 11 + index % 3, index // 3
                self.set(a, b, dark)
                self.set(b, a, dark)

    def draw_format(self, mask: int, level: str) -> None:
        bits = format_bits(level, mask)
        size = self.size

        def bit(index: int) -> bool:
            return bool(bits >> index & 1)

        for index in range(6):
            self.set(8, index, bit(index))
        self.set(8, 7, bit(6))
        self.set(8, 8, bit(7))
        self.set(7, 8, bit(8))
        for index in range(9, 15):
            self.set(14 - index, 8, bit(index))
        for index in range(8):
            self.set(size - 1 - index, 8, bit(index))
        for index in range(8, 15):
            self.set(8, size - 15 + index, bit(index))
        self.set(8, size - 8, True)  # the dark module

    def place(self, codewords: Sequence[int]) -> None:
        size = self.size
        total = len(codewords) * 8
        index = 0
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5  # the vertical timing pattern takes column 6
            upward = (right + 1) & 2 == 0
            for step in range(size):
                y = size - 1 - step if upward else step
                for x in (right, right - 1):
                    if not self.reserved[y][x] and index < total:
                        self.dark[y][x] = bool(codewords[index >> 3] >> (7 - (index & 7)) & 1)
                        index += 1
            right -= 2

    def apply_mask(self, mask: int) -> None:
        test = _MASKS[mask]
        for y in range(self.size):
            for x in range(self.size):
                if not self.reserved[y][x] and test(x, y):
                    self.dark[y][x] = not self.dark[y][x]


def _penalty(matrix: Matrix) -> int:
    size = len(matrix)
    score = 0
    lines = matrix + [list(column) for column in zip(*matrix, strict=True)]
    finder_like = ([True, False, True, True, True, False, True, False, False, False, False],
                   [False, False, False, False, True, False, True, True, True, False, True])
    for line in lines:
        run = 1
        for index in range(1, size + 1):
            if index < size and line[index] == line[index - 1]:
                run += 1
                continue
            if run >= 5:
                score += 3 + (run - 5)
            run = 1
        for start in range(size - 10):
            if line[start:start + 11] in finder_like:
                score += 40
    for y in range(size - 1):
        for x in range(size - 1):
            if matrix[y][x] == matrix[y][x + 1] == matrix[y + 1][x] == matrix[y + 1][x + 1]:
                score += 3
    dark = sum(sum(row) for row in matrix)
    score += abs(dark * 100 // (size * size) - 50) // 5 * 10
    return score


def encode(payload: bytes | str, level: str = "L") -> Matrix:
    """The QR symbol for `payload` (True = dark), smallest version first, best mask by penalty."""
    data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    if level not in _LAYOUT:
        raise ValueError(f"error correction level must be one of {', '.join(_LAYOUT)}")
    version = choose_version(len(data), level)
    codewords = _codewords(data, version, level)
    best: tuple[int, Matrix] | None = None
    for mask in range(8):
        symbol = _Symbol(version)
        symbol.place(codewords)
        symbol.apply_mask(mask)
        symbol.draw_format(mask, level)
        score = _penalty(symbol.dark)
        if best is None or score < best[0]:
            best = (score, symbol.dark)
    assert best is not None
    return best[1]


def render(matrix: Matrix, *, quiet_zone: int = 2) -> str:
    """Text for a terminal with a dark background: light modules are drawn, two rows per line."""
    size = len(matrix) + 2 * quiet_zone

    def light(x: int, y: int) -> bool:
        inner_x, inner_y = x - quiet_zone, y - quiet_zone
        inside = 0 <= inner_x < len(matrix) and 0 <= inner_y < len(matrix)
        return not (inside and matrix[inner_y][inner_x])

    lines = []
    for y in range(0, size, 2):
        row = []
        for x in range(size):
            top, bottom = light(x, y), y + 1 < size and light(x, y + 1)
            row.append("\u2588" if top and bottom else "\u2580" if top else "\u2584" if bottom else " ")
        lines.append("".join(row))
    return "\n".join(lines)
