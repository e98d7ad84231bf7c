"""BLAKE-512 (the original SHA-3 finalist BLAKE, not BLAKE2), pure Python.

circomlibjs derives Baby Jubjub EdDSA keys and nonces with npm ``blake-hash``
"blake512", and Python's hashlib has no original BLAKE, so the verifier needs
its own. Written from the BLAKE specification (v1.3): 64-bit words, 16 rounds,
zero salt, 128-bit bit counter, big-endian word encoding.

It is a plain hash for key derivation only: it must never be used where a
keyed MAC or a password hash is needed, and it is not constant-time.
"""

from collections.abc import Iterable

_MASK = (1 << 64) - 1

# Initial value: the same as SHA-512's (spec section 2.2.1).
_IV = (
    0x6A09E667F3BCC908,
    0xBB67AE8584CAA73B,
    0x3C6EF372FE94F82B,
    0xA54FF53A5F1D36F1,
    0x510E527FADE682D1,
    0x9B05688C2B3E6C1F,
    0x1F83D9ABFB41BD6B,
    0x5BE0CD19137E2179,
)

# The first 1024 bits of the fractional part of pi (spec section 2.2.1).
_C = (
    0x243F6A8885A308D3,
    0x13198A2E03707344,
    0xA4093822299F31D0,
    0x082EFA98EC4E6C89,
    0x452821E638D01377,
    0xBE5466CF34E90C6C,
    0xC0AC29B7C97C50DD,
    0x3F84D5B5B5470917,
    0x9216D5D98979FB1B,
    0xD1310BA698DFB5AC,
    0x2FFD72DBD01ADFB7,
    0xB8E1AFED6A267E96,
    0xBA7C9045F12C7F99,
    0x24A19947B3916CF7,
    0x0801F2E2858EFC16,
    0x636920D871574E69,
)

# Message-word permutations; round r uses _SIGMA[r % 10].
_SIGMA = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    (14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3),
    (11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4),
    (7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8),
    (9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13),
    (2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9),
    (12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11),
    (13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10),
    (6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5),
    (10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0),
)

# (a, b, c, d) state indices of the eight G calls of one round: four columns,
# then four diagonals.
_G_INDICES = (
    (0, 4, 8, 12),
    (1, 5, 9, 13),
    (2, 6, 10, 14),
    (3, 7, 11, 15),
    (0, 5, 10, 15),
    (1, 6, 11, 12),
    (2, 7, 8, 13),
    (3, 4, 9, 14),
)

_ROUNDS = 16
_BLOCK_BYTES = 128
DIGEST_SIZE = 64


def _compress(h: list[int], block: bytes, counter: int) -> None:
    """Update the chain value ``h`` in place with one 128-byte block.

    ``counter`` is the number of message bits hashed up to and including this
    block (0 for a block holding padding only); the salt is always zero.
    """
    m = [int.from_bytes(block[8 * i : 8 * i + 8], "big") for i in range(16)]
    t0 = counter & _MASK
    t1 = (counter >> 64) & _MASK
    v = [
        *h,
        _C[0],
        _C[1],
        _C[2],
        _C[3],
        t0 ^ _C[4],
        t0 ^ _C[5],
        t1 ^ _C[6],
        t1 ^ _C[7],
    ]
    for r in range(_ROUNDS):
        s = _SIGMA[r % 10]
        for i, (a, b, c, d) in enumerate(_G_INDICES):
            x = s[2 * i]
            y = s[2 * i + 1]
            va, vb, vc, vd = v[a], v[b], v[c], v[d]
            va = (va + vb + (m[x] ^ _C[y])) & _MASK
            vd ^= va
            vd = ((vd >> 32) | (vd << 32)) & _MASK
            vc = (vc + vd) & _MASK
            vb ^= vc
            vb = ((vb >> 25) | (vb << 39)) & _MASK
            va = (va + vb + (m[y] ^ _C[x])) & _MASK
            vd ^= va
            vd = ((vd >> 16) | (vd << 48)) & _MASK
            vc = (vc + vd) & _MASK
            vb ^= vc
            vb = ((vb >> 11) | (vb << 53)) & _MASK
            v[a], v[b], v[c], v[d] = va, vb, vc, vd
    for i in range(8):
        h[i] ^= v[i] ^ v[i + 8]


def _padded_blocks(message: bytes) -> Iterable[tuple[bytes, int]]:
    """Yield (block, counter) pairs for ``message`` after BLAKE-512 padding.

    Padding: a 1 bit, zeros, a final 1 bit, then the 128-bit big-endian bit
    length, so the total is a multiple of 1024 bits. A block's counter counts
    only message bits; a block with none of them gets counter 0 (spec 2.2.3).
    """
    bit_len = 8 * len(message)
    # Bytes needed so that len(message) + pad + 16 is a multiple of 128.
    pad_len = (_BLOCK_BYTES - (len(message) + 17) % _BLOCK_BYTES) % _BLOCK_BYTES + 1
    # With room for one padding byte only, the leading and the final 1 bit share it.
    padding = b"\x81" if pad_len == 1 else b"\x80" + b"\x00" * (pad_len - 2) + b"\x01"
    data = message + padding + bit_len.to_bytes(16, "big")
    for start in range(0, len(data), _BLOCK_BYTES):
        message_bits_so_far = 8 * min(len(message), start + _BLOCK_BYTES)
        holds_message = start < len(message)
        yield data[start : start + _BLOCK_BYTES], message_bits_so_far if holds_message else 0


def blake512(message: bytes | bytearray | memoryview) -> bytes:
    """Return the 64-byte BLAKE-512 digest of ``message`` (as npm blake-hash "blake512")."""
    if not isinstance(message, bytes | bytearray | memoryview):
        raise TypeError("blake512 expects bytes")
    h = list(_IV)
    for block, counter in _padded_blocks(bytes(message)):
        _compress(h, block, counter)
    return b"".join(word.to_bytes(8, "big") for word in h)
