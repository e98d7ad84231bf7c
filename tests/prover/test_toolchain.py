"""Tests for prover.toolchain: build cache, ptau handling, witness/prove, one-line errors."""

import json
import os
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from prover import toolchain
from prover.errors import ToolchainError, WitnessError
from prover.r1cs import read_ptau_header, read_r1cs_header
from tests.prover.conftest import CIRCUIT_DIR, JS_DIR, MULTIPLIER
from verifier.field import Q

HONEST = {"product": 15, "a": 3, "b": 5}


def circomlibjs_poseidon(*inputs: int) -> int:
    out = subprocess.run(
        ["node", str(JS_DIR / "poseidon.js"), *map(str, inputs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def forbid_tools(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any tool run fail the test; returns the list of attempted runs."""
    attempted: list[str] = []

    def refuse(what: str, *args: object, **kwargs: object) -> str:
        attempted.append(what)
        raise AssertionError(f"unexpected tool run: {what}")

    monkeypatch.setattr(toolchain.tools, "_run", refuse)
    return attempted


# ---------------------------------------------------------------- build and prove


@pytest.mark.slow
def test_build_produces_consistent_artifacts(multiplier: toolchain.CircuitArtifacts) -> None:
    for path in (multiplier.r1cs, multiplier.wasm, multiplier.sym, multiplier.zkey):
        assert path.is_file() and path.stat().st_size > 0
    header = read_r1cs_header(multiplier.r1cs)
    assert multiplier.constraints == header.n_constraints
    # One public output (commitment) and one public input (product).
    assert (header.n_pub_out, header.n_pub_in, header.n_prv_in) == (1, 1, 2)
    assert multiplier.n_public == 2
    vkey = multiplier.verification_key()
    assert vkey["protocol"] == "groth16" and vkey["nPublic"] == 2
    assert len(vkey["IC"]) == 3
    assert read_ptau_header(multiplier.ptau).power >= header.required_ptau_power


@pytest.mark.slow
def test_prove_and_verify_with_snarkjs(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    proof, public = toolchain.prove_inputs(multiplier, HONEST)
    # Public signals: outputs first, then public inputs; commitment is Poseidon(a + b, b).
    assert public == [str(circomlibjs_poseidon(3 + 5, 5)), "15"]
    assert proof["protocol"] == "groth16" and proof["curve"] == "bn128"

    proof_path, public_path = tmp_path / "proof.json", tmp_path / "public.json"
    proof_path.write_text(json.dumps(proof))
    public_path.write_text(json.dumps(public))
    assert toolchain.snarkjs_verify(multiplier.vkey_json, proof_path, public_path)

    public_path.write_text(json.dumps([public[0], "16"]))
    assert not toolchain.snarkjs_verify(multiplier.vkey_json, proof_path, public_path)


@pytest.mark.slow
def test_witness_then_prove_matches_prove_inputs(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    wtns = toolchain.witness(multiplier, {"product": 6, "a": 2, "b": 3}, tmp_path / "w.wtns")
    _, public = toolchain.prove(multiplier, wtns)
    assert public == [str(circomlibjs_poseidon(5, 3)), "6"]


@pytest.mark.slow
def test_second_build_is_a_cache_hit(
    multiplier: toolchain.CircuitArtifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    zkey_mtime = multiplier.zkey.stat().st_mtime_ns
    attempted = forbid_tools(monkeypatch)
    again = toolchain.build("multiplier (test)", MULTIPLIER)
    assert attempted == []
    assert again == multiplier
    assert multiplier.zkey.stat().st_mtime_ns == zkey_mtime


@pytest.mark.slow
def test_changed_include_changes_key_and_rebuilds(
    multiplier: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    copy = tmp_path / "circuits"
    shutil.copytree(CIRCUIT_DIR, copy)
    source = copy / "multiplier.circom"
    key = toolchain.source_key(source)
    assert key == toolchain.source_key(MULTIPLIER)  # contents, not paths

    # A file nothing includes is not part of the key.
    (copy / "lib" / "unused.circom").write_text("template Unused() {}\n")
    assert toolchain.source_key(source) == key

    product = copy / "lib" / "product.circom"
    product.write_text(product.read_text().replace("out <== a * b;", "out <== a * b + 0;"))
    changed_key = toolchain.source_key(source)
    assert changed_key != key

    rebuilt = toolchain.build("multiplier (test)", source)
    assert rebuilt.key != multiplier.key
    assert rebuilt.r1cs != multiplier.r1cs
    assert rebuilt.r1cs.parent.name.endswith(changed_key[:24])


def test_extra_key_material_changes_key() -> None:
    plain = toolchain.source_key(MULTIPLIER)
    with_params = toolchain.source_key(MULTIPLIER, extra_key={"depth": 4})
    assert with_params != plain
    assert with_params == toolchain.source_key(MULTIPLIER, extra_key={"depth": 4})
    assert with_params != toolchain.source_key(MULTIPLIER, extra_key={"depth": 5})


def test_source_files_follow_includes() -> None:
    files = toolchain.source_files(MULTIPLIER)
    names = {f.name for f in files}
    assert files[0] == MULTIPLIER
    assert {"product.circom", "poseidon.circom", "poseidon_constants.circom"} <= names


def test_unresolvable_include_is_one_line_error(tmp_path: Path) -> None:
    source = tmp_path / "broken.circom"
    source.write_text('pragma circom 2.1.0;\ninclude "nowhere/missing.circom";\n')
    with pytest.raises(ToolchainError, match=r"missing.circom") as err:
        toolchain.source_files(source)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_compile_error_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.circom"
    source.write_text("pragma circom 2.1.0;\ntemplate T() { signal input x; x <== ; }\n")
    with pytest.raises(ToolchainError, match=r"^circom2 compile failed: ") as err:
        toolchain.compile_circuit(source, out_dir=tmp_path / "out")
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_build_generated_main_wrapper(tmp_path: Path) -> None:
    main = (
        "pragma circom 2.1.0;\n"
        'include "lib/product.circom";\n'
        "component main {public [a]} = Product();\n"
    )
    artifacts = toolchain.build_generated("product (test)", main, [CIRCUIT_DIR])
    assert artifacts.constraints == 1 and artifacts.n_public == 2
    _, public = toolchain.prove_inputs(artifacts, {"a": 7, "b": 6})
    assert public == ["42", "7"]


# ---------------------------------------------------------------- witness errors


@pytest.mark.slow
def test_violated_assert_is_a_witness_error(multiplier: toolchain.CircuitArtifacts) -> None:
    with pytest.raises(WitnessError, match="Assert Failed") as err:
        toolchain.prove_inputs(multiplier, {"product": 16, "a": 3, "b": 5})
    assert "\n" not in str(err.value)
    assert "multiplier (test)" in str(err.value)
    with pytest.raises(WitnessError, match="Assert Failed"):
        toolchain.prove_inputs(multiplier, {"product": 0, "a": 0, "b": 5})


@pytest.mark.slow
def test_missing_input_is_a_witness_error(multiplier: toolchain.CircuitArtifacts) -> None:
    with pytest.raises(WitnessError, match="inputs") as err:
        toolchain.prove_inputs(multiplier, {"product": 15, "a": 3})
    assert "\n" not in str(err.value)


def test_bad_input_values_are_rejected_before_node(
    multiplier_stub: toolchain.CircuitArtifacts, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    forbid_tools(monkeypatch)
    for bad in ({"a": 1.5}, {"a": "0x10"}, {"a": True}, {"a": [1, None]}):
        with pytest.raises(WitnessError, match="input a"):
            toolchain.witness(multiplier_stub, bad, tmp_path / "w.wtns")


def test_input_json_encodes_big_and_nested_integers(tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    big = 2**250 + 1
    toolchain.write_input_json({"x": big, "ys": [[1, -2], (3, "4")]}, path)
    assert json.loads(path.read_text()) == {"x": str(big), "ys": [["1", "-2"], ["3", "4"]]}


@pytest.fixture
def multiplier_stub(tmp_path: Path) -> toolchain.CircuitArtifacts:
    """Artifacts whose files do not exist: for checks that must fail before any tool runs."""
    fake = tmp_path / "none"
    return toolchain.CircuitArtifacts(
        name="stub",
        key="0" * 64,
        r1cs=fake,
        wasm=fake,
        sym=fake,
        witness_js=fake,
        zkey=fake,
        vkey_json=fake,
        ptau=fake,
        constraints=0,
        n_public=0,
    )


# ---------------------------------------------------------------- missing tools


def test_missing_node_is_one_line_error(
    monkeypatch: pytest.MonkeyPatch, multiplier_stub: toolchain.CircuitArtifacts, tmp_path: Path
) -> None:
    monkeypatch.setattr("prover.toolchain.tools.shutil.which", lambda name, *a, **k: None)
    with pytest.raises(ToolchainError) as err:
        toolchain.node_executable()
    assert str(err.value) == toolchain.NODE_MISSING
    assert str(err.value) == (
        "node not found: install Node.js >= 18 (https://nodejs.org) "
        "and run `npm ci` in the project root"
    )
    with pytest.raises(ToolchainError, match=r"^node not found"):
        toolchain.witness(multiplier_stub, {"a": 1}, tmp_path / "w.wtns")
    with pytest.raises(ToolchainError, match=r"^node not found"):
        toolchain.compile_circuit(MULTIPLIER, out_dir=tmp_path)


def test_missing_node_modules_says_run_npm_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "package.json").write_text("{}")
    monkeypatch.setattr(toolchain.tools, "project_root", lambda: tmp_path)
    with pytest.raises(ToolchainError, match="run `npm ci`") as err:
        toolchain.tool_versions()
    assert "\n" not in str(err.value)
    with pytest.raises(ToolchainError, match=r"snarkjs not found.*run `npm ci`"):
        toolchain.tools._node_tool("snarkjs", "snarkjs")


def test_tool_versions_are_the_pinned_ones() -> None:
    pinned = json.loads((toolchain.project_root() / "package.json").read_text())
    deps = pinned["dependencies"]
    assert toolchain.tool_versions() == {
        "circom2": deps["circom2"],
        "snarkjs": deps["snarkjs"],
        "circomlib": deps["circomlib"],
    }


# ---------------------------------------------------------------- powers of tau


def test_ptau_env_missing_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DARKPOOL_PTAU", str(tmp_path / "nope.ptau"))
    with pytest.raises(ToolchainError, match=r"DARKPOOL_PTAU=.*no such file"):
        toolchain.resolve_ptau(10)


def test_ptau_env_not_a_ptau(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    junk = tmp_path / "junk.ptau"
    junk.write_bytes(b"not a ptau file at all")
    monkeypatch.setenv("DARKPOOL_PTAU", str(junk))
    with pytest.raises(ToolchainError, match="bad magic") as err:
        toolchain.resolve_ptau(10)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_generated_dev_ptau(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DARKPOOL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DARKPOOL_PTAU", raising=False)
    monkeypatch.setattr(toolchain.ptau, "shared_ptau_dirs", lambda: [])
    path = toolchain.resolve_ptau(3)  # below the minimum: a 2^10 file is made
    header = read_ptau_header(path)
    assert (header.power, header.ceremony_power) == (10, 10)
    assert header.phase2_ready
    assert "INSECURE development powers of tau" in capsys.readouterr().err
    assert not list((tmp_path / "cache" / "tmp").iterdir())  # nothing half-built left behind

    # Generated once: the second request runs no tool.
    run = toolchain.tools._run
    forbid_tools(monkeypatch)
    assert toolchain.resolve_ptau(10) == path
    monkeypatch.setattr(toolchain.tools, "_run", run)

    # Given by path, a file of too small a power is refused with the needed power.
    monkeypatch.setenv("DARKPOOL_PTAU", str(path))
    assert toolchain.resolve_ptau(10) == path
    with pytest.raises(ToolchainError, match=r"power 10 .*too small.*needs power 11") as err:
        toolchain.resolve_ptau(11)
    assert "\n" not in str(err.value)


def test_unprepared_ptau_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A minimal ptau container with only the header section (as after `powersoftau new`
    # minus its point sections): phase-2 sections are missing.
    header = struct.pack("<I", 32) + Q.to_bytes(32, "little") + struct.pack("<II", 12, 12)
    blob = b"ptau" + struct.pack("<II", 1, 1) + struct.pack("<IQ", 1, len(header)) + header
    path = tmp_path / "raw.ptau"
    path.write_bytes(blob)
    monkeypatch.setenv("DARKPOOL_PTAU", str(path))
    with pytest.raises(ToolchainError, match="not prepared for phase 2"):
        toolchain.resolve_ptau(10)


def test_ptau_digest_is_memoised(tmp_path: Path) -> None:
    path = tmp_path / "f.ptau"
    path.write_bytes(b"a" * 1000)
    first = toolchain.ptau_digest(path)
    assert first == toolchain.file_sha256(path)
    memo = json.loads((toolchain.cache_dir() / "ptau-digests.json").read_text())
    assert first in memo.values()
    # Same size, new mtime: the memo entry no longer applies, so the new content is hashed.
    path.write_bytes(b"b" * 1000)
    os.utime(path, ns=(1, 1))
    assert toolchain.ptau_digest(path) != first


# ---------------------------------------------------------------- cache plumbing


def test_concurrent_builders_produce_an_entry_once() -> None:
    calls: list[int] = []

    def produce(tmp: Path) -> None:
        calls.append(threading.get_ident())
        time.sleep(0.2)  # keep the first builder inside the lock while the second arrives
        (tmp / "data").write_text("x")
        (tmp / toolchain.MANIFEST).write_text("{}")

    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(toolchain.cache._cache_entry("t", "once", produce))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 3
    assert (results[0] / "data").read_text() == "x"


def test_crashed_build_leaves_no_entry() -> None:
    def crash(tmp: Path) -> None:
        (tmp / "partial").write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        toolchain.cache._cache_entry("t", "crash", crash)
    assert not (toolchain.cache_dir() / "t" / "crash").exists()
    assert not list((toolchain.cache_dir() / "tmp").glob("t-crash.*"))

    def produce(tmp: Path) -> None:
        (tmp / toolchain.MANIFEST).write_text("{}")

    assert (toolchain.cache._cache_entry("t", "crash", produce) / toolchain.MANIFEST).is_file()


# ---------------------------------------------------------------- progress and messages


def test_progress_reports_only_slow_steps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Delays chosen far apart so a loaded CI machine cannot blur fast and slow.
    monkeypatch.setattr(toolchain.tools, "PROGRESS_DELAY_S", 30.0)
    with toolchain.progress("compiling fast"):
        pass
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(toolchain.tools, "PROGRESS_DELAY_S", 0.01)
    with toolchain.progress("compiling slow"):
        time.sleep(0.5)
    err = capsys.readouterr().err
    assert err.startswith("[darkpool] compiling slow…  done in ")
    assert err.endswith("s\n")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "\x1b[31;22m[ERROR] \x1b[39;1msnarkJS\x1b[0m: Error: ENOENT: no such file, open 'x'\n"
            "    at async Object.open (node:internal/fs/promises:637:25)\n"
            "  errno: -2,\n}\n",
            "ENOENT: no such file, open 'x'",
        ),
        (
            "/tmp/x_js/witness_calculator.js:168\n      throw new Error(err);\n      ^\n\n"
            "Error: Error: Assert Failed.\nError in template Mul_71 line: 10\n\n"
            "    at /tmp/x_js/witness_calculator.js:168:27\n\nNode.js v20.20.2\n",
            "Assert Failed. Error in template Mul_71 line: 10",
        ),
        (
            "\x1b[1;38;5;9merror[P1014]\x1b[0m: The file a.circom to be included has not been found\n"
            " = Consider using compilation option -l\n\nprevious errors were found\n",
            "error[P1014]: The file a.circom to be included has not been found",
        ),
        ("line one\nlast useful line\n    at foo (bar.js:1:1)\n", "last useful line"),
        ("", "no output"),
    ],
)
def test_summarise_picks_the_telling_line(output: str, expected: str) -> None:
    assert toolchain.tools._summarise(output) == expected


def test_progress_prints_the_estimate_and_ticks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(toolchain.tools, "PROGRESS_DELAY_S", 0.01)
    monkeypatch.setattr(toolchain.tools, "PROGRESS_TICK_S", 0.1)
    with toolchain.progress("generating slow", estimate_s=125):
        time.sleep(0.6)
    err = capsys.readouterr().err
    assert err.startswith("[darkpool] generating slow (about 2m05s on 2 idle cores)… 1s…")
    assert err.endswith("s\n") and "  done in " in err
    assert [toolchain.tools.format_duration(s) for s in (0.2, 59, 61, 3600, 5000)] == [
        "1s",
        "59s",
        "1m01s",
        "1h00m",
        "1h23m",
    ]
