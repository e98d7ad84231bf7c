"""The oracle as its own program: its key directory, its clock, its feed.

``OracleService.open`` loads (or creates, mode 0600 in a 0700 directory) the
oracle's EdDSA key from the oracle's own directory — never the operator's key
directory — and signs with an ``OracleSigner`` on the machine's clock.
``oracle.app`` puts it behind HTTP for ``darkpool oracle serve``. The key is
never logged, printed or served; only its public half is.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from oracle.feed import PriceFeed
from oracle.signer import DEFAULT_MAX_SKEW_S, OracleError, OracleSigner
from verifier.eddsa import PrivateKey
from verifier.params import domain_tag

__all__ = ["KEY_FILE", "OracleService", "load_or_create_key", "wall_clock"]

KEY_FILE = "oracle_eddsa.key"
KEY_BYTES = 32


def wall_clock() -> int:
    return int(time.time())


def load_or_create_key(key_dir: Path) -> PrivateKey:
    """The 32-byte EdDSA seed in ``key_dir/oracle_eddsa.key``, created exclusively if missing."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        try:
            os.write(fd, os.urandom(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
    seed = path.read_bytes()
    if len(seed) != KEY_BYTES:
        raise OracleError(f"{path} must hold exactly {KEY_BYTES} bytes")
    return PrivateKey(seed)


@dataclass
class OracleService:
    """One oracle: exchange id (for its domain tag), signer and where its key lives."""

    exchange_id: str
    key_dir: Path
    signer: OracleSigner

    @classmethod
    def open(
        cls,
        key_dir: Path,
        exchange_id: str,
        feed: PriceFeed,
        *,
        clock: Callable[[], int] = wall_clock,
        max_skew_s: int = DEFAULT_MAX_SKEW_S,
    ) -> "OracleService":
        signer = OracleSigner(
            feed,
            domain_tag("oracle", exchange_id),
            key=load_or_create_key(key_dir),
            clock=clock,
            max_skew_s=max_skew_s,
        )
        return cls(exchange_id, key_dir, signer)
