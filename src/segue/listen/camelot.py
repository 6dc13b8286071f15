"""The Camelot wheel: the one place keys and Camelot codes are named, parsed and compared.

Numbering: 8B = C major, 8A = A minor; one step round the wheel is a fifth, and A <-> B with
the same number is the relative minor/major. The analyser writes keys as "A minor" and codes
as "8A"; users may type either form ("8A", "08a", "Am", "A minor", "C#m", "Db major", "F♯ min",
"C"), and every part of segue (the playlist filters, ordering, the mix planner) reads them here.
"""

from __future__ import annotations

import re

from segue.errors import UserError

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*([#♯b♭]|sharp|flat)?\s*"
    r"(m|min|minor|maj|major|M|moll|dur)?\s*$"
)
_CAMELOT_RE = re.compile(r"^\s*0?([1-9]|1[0-2])\s*([ABab])\s*$")


def camelot_of(pc: int, mode: str) -> str:
    """Camelot code of a key: C major -> 8B, A minor -> 8A."""
    major_pc = pc % 12 if mode == "major" else (pc + 3) % 12
    number = (7 * major_pc + 7) % 12 + 1
    return f"{number}{'B' if mode == 'major' else 'A'}"


def key_of_camelot(code: str) -> tuple[int, str]:
    """(pitch class, mode) of a Camelot code: 8B -> (0, "major")."""
    n, letter = int(code[:-1]), code[-1].upper()
    major_pc = (7 * (n - 8)) % 12  # inverse of number = 7*pc + 8 (mod 12, 1-based)
    if letter == "B":
        return major_pc, "major"
    return (major_pc - 3) % 12, "minor"


def parse_camelot_or_key(text: str) -> str:
    """A key name or Camelot code as its Camelot code ("Am" -> "8A"); UserError otherwise."""
    if not isinstance(text, str):
        raise UserError(f"not a key or Camelot code: {text!r}")
    m = _CAMELOT_RE.match(text)
    if m:
        return f"{int(m.group(1))}{m.group(2).upper()}"
    m = _KEY_RE.match(text.replace("-", " "))
    if not m:
        raise UserError(f"not a key or Camelot code: {text!r} (try e.g. '8A', 'Am', 'A minor')")
    pc = _LETTER_PC[m.group(1).upper()]
    acc = m.group(2)
    if acc in ("#", "♯", "sharp"):
        pc += 1
    elif acc in ("b", "♭", "flat"):
        pc -= 1
    minor = m.group(3) in ("m", "min", "minor", "moll")
    return camelot_of(pc % 12, "minor" if minor else "major")


def parse_camelot(text: str | None) -> tuple[int, str] | None:
    """``(number, letter)`` of a key or code (``"Am"`` and ``"8A"`` -> ``(8, "A")``); None for
    a missing or unreadable one (stored keys may be absent: unknown never matches)."""
    if not text:
        return None
    try:
        code = parse_camelot_or_key(text)
    except UserError:
        return None
    return int(code[:-1]), code[-1]


def camelot_steps(a: str | None, b: str | None) -> int | None:
    """Moves on the wheel from a to b: hours round the ring (circular) plus 1 to change ring.

    0 = same key, 1 = compatible (adjacent hour or relative major/minor), None = unknown.
    """
    pa, pb = parse_camelot(a), parse_camelot(b)
    if pa is None or pb is None:
        return None
    h = abs(pa[0] - pb[0]) % 12
    return min(h, 12 - h) + (pa[1] != pb[1])


def camelot_distance(a: str, b: str) -> int:
    """:func:`camelot_steps` of two keys that must parse (UserError otherwise)."""
    steps = camelot_steps(parse_camelot_or_key(a), parse_camelot_or_key(b))
    assert steps is not None  # both parsed
    return steps


def camelot_compatible(a: str, b: str) -> bool:
    """Harmonic-mixing rule: same key, +-1 on the same ring, or the relative major/minor."""
    return camelot_distance(a, b) <= 1
