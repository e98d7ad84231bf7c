"""Poseidon round constants and MDS matrices for BN254, derived from first principles.

This module regenerates the parameters that circomlib / circomlibjs ship as
opaque constant tables, following the Poseidon reference procedure
(``generate_parameters_grain.sage``, invoked by circomlib as
``1 0 254 t 8 R_P <r>``: prime field, x^alpha S-box, 254-bit elements):

* an 80-bit Grain LFSR is seeded with the parameter description
  (field type, S-box type, field size, t, R_F, R_P, then thirty 1 bits),
  clocked 160 times and then read through a self-shrinking filter;
* round constants are 254-bit samples, rejection-sampled below ``R``;
* the MDS matrix is a Cauchy matrix ``M[i][j] = 1 / (x_i + y_j)`` over
  ``2t`` further samples (reduced mod ``R``), resampled if any sample repeats
  or any ``x_i + y_j`` is zero.

Deriving the constants instead of pasting them gives them provenance; the tests
cross-check every arity against circomlibjs's tables. Generation is lazy and
cached per state width ``t``.

This module must never import prover/ or exchange/, never run node, and never
read constant tables from disk.
"""

from dataclasses import dataclass
from functools import cache

from verifier.field import R

FULL_ROUNDS = 8
# Partial rounds for t = 2..17 (index t - 2), as circomlib's Poseidon template.
PARTIAL_ROUNDS: tuple[int, ...] = (
    56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68,
)  # fmt: skip
MIN_WIDTH = 2
MAX_WIDTH = MIN_WIDTH + len(PARTIAL_ROUNDS) - 1

FIELD_BITS = 254
_FIELD_TYPE_PRIME = 1
_SBOX_POWER = 0  # 0 = x^alpha in the reference encoding (1 would be x^-1)

# Raw LFSR bits produced per step. The feedback taps reach back at most to
# position 62 of the 80-bit register, so up to 80 - 62 = 18 new bits depend only
# on bits already in the register and can be computed with one shifted XOR.
_STEP_BITS = 16
_STEP_MASK = (1 << _STEP_BITS) - 1


def _shrink_table() -> tuple[tuple[int, int], ...]:
    """Self-shrinking filter for one byte of raw bits (4 pairs, earliest pair in the low bits).

    For each pair (a, b) in time order, ``b`` is emitted when ``a == 1`` and the
    pair is dropped otherwise. Entry = (emitted bits MSB-first, count).
    """
    table = []
    for byte in range(256):
        out = 0
        count = 0
        for pair in range(4):
            if (byte >> (2 * pair)) & 1:
                out = (out << 1) | ((byte >> (2 * pair + 1)) & 1)
                count += 1
        table.append((out, count))
    return tuple(table)


_SHRINK = _shrink_table()


class GrainLfsr:
    """The reference Grain LFSR in self-shrinking mode, seeded for one Poseidon instance."""

    def __init__(self, t: int, full_rounds: int, partial_rounds: int) -> None:
        seed_bits = (
            format(_FIELD_TYPE_PRIME, "02b")
            + format(_SBOX_POWER, "04b")
            + format(FIELD_BITS, "012b")
            + format(t, "012b")
            + format(full_rounds, "010b")
            + format(partial_rounds, "010b")
            + "1" * 30
        )
        # Register bit k holds sequence element k (element 0 is shifted out next).
        self._state = int(seed_bits[::-1], 2)
        for _ in range(160 // _STEP_BITS):
            self._raw_step()
        # Filtered output not yet consumed, oldest bit most significant.
        self._buffer = 0
        self._buffered = 0

    def _raw_step(self) -> int:
        """Clock the register _STEP_BITS times; return the new bits (earliest in bit 0)."""
        s = self._state
        new = (s ^ (s >> 13) ^ (s >> 23) ^ (s >> 38) ^ (s >> 51) ^ (s >> 62)) & _STEP_MASK
        self._state = (s >> _STEP_BITS) | (new << (80 - _STEP_BITS))
        return new

    def random_bits(self, n: int) -> int:
        """Next ``n`` filtered bits as an integer, first bit most significant."""
        buffer = self._buffer
        buffered = self._buffered
        while buffered < n:
            raw = self._raw_step()
            lo_bits, lo_count = _SHRINK[raw & 0xFF]
            hi_bits, hi_count = _SHRINK[raw >> 8]
            buffer = (((buffer << lo_count) | lo_bits) << hi_count) | hi_bits
            buffered += lo_count + hi_count
        rest = buffered - n
        value = buffer >> rest
        self._buffer = buffer & ((1 << rest) - 1)
        self._buffered = rest
        return value

    def field_element_rejection(self) -> int:
        """A uniformly sampled element of [0, R) (used for round constants)."""
        while True:
            x = self.random_bits(FIELD_BITS)
            if x < R:
                return x

    def field_element_reduced(self) -> int:
        """A 254-bit sample reduced mod R (how the reference samples Cauchy points)."""
        return self.random_bits(FIELD_BITS) % R


@dataclass(frozen=True, slots=True)
class PoseidonParams:
    """Constants of one Poseidon instance over BN254 with state width ``t``.

    ``round_constants[r][i]`` is added to state element ``i`` in round ``r``;
    the linear layer computes ``new[i] = sum_j mds[i][j] * state[j]``.
    """

    t: int
    full_rounds: int
    partial_rounds: int
    round_constants: tuple[tuple[int, ...], ...]
    mds: tuple[tuple[int, ...], ...]


def _cauchy_mds(lfsr: GrainLfsr, t: int) -> tuple[tuple[int, ...], ...]:
    while True:
        points = [lfsr.field_element_reduced() for _ in range(2 * t)]
        while len(set(points)) != len(points):
            points = [lfsr.field_element_reduced() for _ in range(2 * t)]
        xs, ys = points[:t], points[t:]
        if any((x + y) % R == 0 for x in xs for y in ys):
            continue
        return tuple(tuple(pow(x + y, -1, R) for y in ys) for x in xs)


@cache
def poseidon_params(t: int) -> PoseidonParams:
    """Generate (once, then cached) the constants for state width ``t`` in 2..17."""
    if not isinstance(t, int) or isinstance(t, bool) or not MIN_WIDTH <= t <= MAX_WIDTH:
        raise ValueError(f"Poseidon state width must be in [{MIN_WIDTH}, {MAX_WIDTH}], got {t!r}")
    partial_rounds = PARTIAL_ROUNDS[t - MIN_WIDTH]
    rounds = FULL_ROUNDS + partial_rounds
    lfsr = GrainLfsr(t, FULL_ROUNDS, partial_rounds)
    flat = [lfsr.field_element_rejection() for _ in range(rounds * t)]
    round_constants = tuple(tuple(flat[r * t : (r + 1) * t]) for r in range(rounds))
    mds = _cauchy_mds(lfsr, t)
    return PoseidonParams(
        t=t,
        full_rounds=FULL_ROUNDS,
        partial_rounds=partial_rounds,
        round_constants=round_constants,
        mds=mds,
    )
