"""The verification keys a replay uses: shipped with the export, checked against genesis and pins."""

import json
from collections.abc import Mapping

from verifier import groth16
from verifier.ledger.genesis import Genesis
from verifier.ledger.parse import EntryError
from verifier.verify_backend import current_backend

__all__ = ["StatementKeys", "load_keys"]

StatementKeys = dict[str, tuple[groth16.PreparedVerificationKey, object]]
"""Statement name -> (prepared key, the key's snarkjs JSON)."""


def load_keys(
    genesis: Genesis,
    shipped: Mapping[str, object],
    pinned: Mapping[str, object] | None,
) -> StatementKeys:
    """The key of each statement of the ledger (``genesis.statements``), checked against genesis and the user's pins.

    ``shipped`` is the export's ``vkeys/`` (statement -> snarkjs JSON); ``pinned``
    the keys the user passed with ``--vkeys`` (or None). Each key must hash
    (``groth16.vkey_hash``) to genesis ``vkey_hashes``; a pinned key wins over a
    missing shipped one. Raises ``EntryError`` with a one-line reason (missing
    key, hash mismatch, or a key the strict parser refuses, e.g. δ = γ).
    """
    keys: StatementKeys = {}
    for statement in genesis.statements:
        expected = genesis.vkey_hashes[statement]
        if pinned is not None:
            if statement not in pinned:
                raise EntryError(f"no pinned verification key for {statement}")
            pinned_hash = groth16.vkey_hash(pinned[statement])
            if pinned_hash != expected:
                raise EntryError(
                    f"genesis pins {statement} key {expected[:16]}…, "
                    f"but your pinned key hashes to {pinned_hash[:16]}…"
                )
        if statement in shipped:
            vk_json = shipped[statement]
            actual = groth16.vkey_hash(vk_json)
            if actual != expected:
                raise EntryError(
                    f"vkeys/{statement}.json hashes to {actual[:16]}…, "
                    f"not genesis vkey_hashes.{statement} {expected[:16]}…"
                )
        elif pinned is not None:
            vk_json = pinned[statement]
        else:
            raise EntryError(f"the export has no verification key for {statement}")
        try:
            vk = groth16.VerificationKey.from_snarkjs(vk_json)  # the strict checks, every time
        except groth16.Groth16Error as exc:
            raise EntryError(f"{statement} verification key: {exc}") from None
        keys[statement] = (_prepared(vk, vk_json), vk_json)
    return keys


# Prepared keys by (canonical key JSON, backend): e(alpha, beta) costs one pairing
# (about 1 s in py_ecc), and a process replaying many ledgers of one exchange
# (the explorer, the test suite) would pay it per key per replay.
_PREPARED: dict[tuple[str, str], groth16.PreparedVerificationKey] = {}
_PREPARED_MAX = 64


def _prepared(vk: groth16.VerificationKey, vk_json: object) -> groth16.PreparedVerificationKey:
    """``groth16.prepare(vk)``, memoised per process by the key's exact JSON and the backend.

    Only derived data is memoised: the caller has parsed ``vk`` from ``vk_json``
    with every check first, and the same JSON always parses to the same key.
    """
    canonical = json.dumps(
        vk_json, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    memo_key = (canonical, current_backend())
    prepared = _PREPARED.get(memo_key)
    if prepared is None:
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        prepared = _PREPARED[memo_key] = groth16.prepare(vk, memo_key[1])
    return prepared
