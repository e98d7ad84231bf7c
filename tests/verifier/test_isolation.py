"""The verifier stands alone: no prover, no exchange, no web/DB stack, no node.

In a clean interpreter (``python -I``, a PATH that holds no ``node``) every
module of the ``verifier`` package is imported; afterwards ``sys.modules``
must hold nothing from prover, exchange, fastapi, sqlmodel (or the web stack
they pull in), and ``darkpool-verify groth16`` must accept a real snarkjs
proof and reject a tampered one. The proof is made here, in the test process,
with the prover toolchain (tests may run node; the verifier may not).
"""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from tests.subprocesses import run_json

FORBIDDEN = ("prover", "exchange", "fastapi", "sqlmodel", "sqlalchemy", "starlette", "uvicorn")
CIRCUIT = Path(__file__).parent / "circuits" / "groth16_test.circom"

CHILD = textwrap.dedent(
    """
    import importlib, json, pkgutil, shutil, sys
    import verifier

    names = ["verifier"] + [
        m.name for m in pkgutil.walk_packages(verifier.__path__, prefix="verifier.")
    ]
    for name in names:
        importlib.import_module(name)
    forbidden = {forbidden!r}
    leaked = sorted(
        m for m in sys.modules if m.split(".")[0] in forbidden
    )
    from verifier.cli import main
    rc_ok = main(["groth16", *sys.argv[1:4]])
    rc_bad = main(["groth16", sys.argv[1], sys.argv[2], sys.argv[4]])
    leaked_after = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
    print(json.dumps({{
        "modules": names,
        "leaked": leaked + leaked_after,
        "node": shutil.which("node"),
        "rc_ok": rc_ok,
        "rc_bad": rc_bad,
    }}))
    """
)


@pytest.mark.slow
def test_verifier_imports_and_verifies_alone(tmp_path: Path) -> None:
    from prover import toolchain

    artifacts = toolchain.build("groth16_test", CIRCUIT)
    proof, public = toolchain.prove_inputs(artifacts, {"slope": 3, "x": 5, "k": 7})
    vkey_file = tmp_path / "vkey.json"
    proof_file = tmp_path / "proof.json"
    public_file = tmp_path / "public.json"
    bad_public_file = tmp_path / "public_bad.json"
    vkey_file.write_text(json.dumps(artifacts.verification_key()))
    proof_file.write_text(json.dumps(proof))
    public_file.write_text(json.dumps(public))
    bad_public_file.write_text(json.dumps([*public[:-1], str(int(public[-1]) + 1)]))

    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {"PATH": str(empty_bin), "HOME": str(tmp_path), "LANG": os.environ.get("LANG", "C")}
    result = run_json(
        [
            sys.executable,
            "-I",
            "-c",
            CHILD.format(forbidden=FORBIDDEN),
            str(vkey_file),
            str(proof_file),
            str(public_file),
            str(bad_public_file),
        ],
        env=env,
        cwd=tmp_path,
    )
    assert result["node"] is None
    for expected in ("verifier.ledger", "verifier.source", "verifier.state", "verifier.cli"):
        assert expected in result["modules"]
    assert any(m.startswith("verifier.statements.") for m in result["modules"])
    assert result["leaked"] == []
    assert result["rc_ok"] == 0
    assert result["rc_bad"] == 1


def test_ledger_modules_do_not_import_forbidden_packages_statically() -> None:
    """A cheap static guard alongside the subprocess check: no forbidden import lines."""
    root = Path(__file__).resolve().parents[2] / "verifier"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if not stripped.startswith(("import ", "from ")):
                continue
            module = stripped.split()[1].split(".")[0]
            if module in FORBIDDEN or module == "subprocess":
                offenders.append(f"{path.relative_to(root.parent)}: {stripped}")
    assert offenders == []
