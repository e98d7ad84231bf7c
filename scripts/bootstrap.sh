#!/usr/bin/env bash
# One setup step for both toolchains: uv (Python, from uv.lock) and npm ci
# (circom2, snarkjs, circomlib from package-lock.json). Idempotent and quick
# when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
    echo "darkpool: node not found: install Node.js >= 18 (https://nodejs.org) and re-run" >&2
    exit 2
fi
if ! command -v uv >/dev/null 2>&1; then
    if [ -x "$HOME/.local/bin/uv" ]; then
        export PATH="$HOME/.local/bin:$PATH"
    else
        echo "darkpool: installing uv (python3 -m pip install --user uv)" >&2
        python3 -m pip install --quiet --user uv
        export PATH="$HOME/.local/bin:$PATH"
    fi
fi
# Optional extras, installed so the tests comparing them with the defaults run:
# --extra native: the mcl pairing backend (darkpool-verify --backend native);
# --extra groth16py: the faster prover (DARKPOOL_PROVER=groth16py; GPL-3.0, run out of process).
# The verifier and the operator work without either.
uv sync --frozen --quiet --extra native --extra groth16py
# npm ci wipes node_modules; skip it when the lockfile has not changed since the last install.
stamp=node_modules/.darkpool-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi
