"""The incremental-replay state file of ``darkpool-verify --state FILE``.

The file stores a ``verifier.ledger.ReplayState``: the ledger id (hash of the
genesis entry), the last verified entry index and that entry's hash, and the
public replay state needed to continue (roots, the order-commitment list,
total collateral, last batch id, account count, counters and the latest
solvency result). A re-run then checks only the entries after it.

The file is written only after a fully successful replay, atomically (temp
file + rename), so a crash or a failed run never leaves a state that claims
more than was verified. A missing file means "start from genesis"; a file that
cannot be parsed as a state is ignored with a note (the replay starts over,
which is always safe); a file that cannot be read at all is an InputError.

The state is a cache of the verifier's own work, not evidence: anyone who can
write it can make the verifier skip entries, so keep it where only you write.
Never imports prover or exchange.
"""

import json
import os
from pathlib import Path

from verifier.ledger import ReplayState
from verifier.source import InputError, parse_json

STATE_FORMAT = "darkpool-verify-state/v1"

__all__ = ["STATE_FORMAT", "load_state", "save_state"]

_START_OVER = " (move it away to verify from the start)"


def load_state(path: Path) -> tuple[ReplayState | None, str | None]:
    """(state, note): state is None (and note None) when the file does not exist yet.

    A file that exists but cannot be used raises ``InputError`` (exit 2): starting
    over silently would drop the append-only check the state file exists for
    (a rewritten, re-signed history replays VALID from scratch). The user moves
    the file away to start over on purpose.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except UnicodeDecodeError:
        raise InputError(f"state file {path} is not UTF-8 text{_START_OVER}") from None
    except OSError as exc:
        raise InputError(f"state file: cannot read {path}: {exc.strerror or exc}") from None
    try:
        obj = parse_json(text)
    except ValueError as exc:
        raise InputError(f"state file {path} is not valid JSON ({exc}){_START_OVER}") from None
    if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT:
        raise InputError(f"state file {path} is not a {STATE_FORMAT} file{_START_OVER}")
    try:
        return ReplayState.from_dict(obj), None
    except ValueError as exc:
        raise InputError(f"state file {path} is malformed ({exc}){_START_OVER}") from None


def save_state(path: Path, state: ReplayState) -> None:
    """Write ``state`` atomically; raises InputError if the file cannot be written."""
    path = Path(path)
    data = {"format": STATE_FORMAT, **state.to_dict()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"state file: cannot write {path}: {exc.strerror or exc}") from None
