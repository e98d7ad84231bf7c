"""Groth16 keys: ``groth16 setup``, phase-2 contributions, ``zkey verify``, the key export.

Every key darkpool builds goes through the same recipe (``SETUP_RECIPE``):

1. ``snarkjs groth16 setup`` from the r1cs and a phase-2-prepared ptau. Its
   zkey has delta = gamma = the G2 generator, so a proof A = alpha, B = beta,
   C = -vk_x verifies for any public inputs: never used as is.
2. A phase-2 contribution. ``darkpool setup`` and every build add one labelled,
   deterministic beacon (``snarkjs zkey beacon`` with ``DEV_PHASE2_BEACON``):
   byte-identical on every machine, so the cache key stays stable, but its
   toxic waste is public. That is a DEVELOPMENT key, as insecure as the
   development ptau under it. Production runs a real multi-party phase 2
   (``darkpool ceremony``: ``contribute`` rounds by independent parties, then a
   public random ``beacon``) on top of a public ceremony ptau.
3. ``snarkjs zkey verify init``: every contribution of the final zkey is well
   formed and it extends the initial zkey of step 1, which this process just
   computed from the r1cs and the ptau (``zkey verify`` from the r1cs would
   recompute step 1: about twice the time for the same check). ``darkpool
   ceremony verify`` checks a ceremony's zkey from the r1cs.
4. ``zkey export verificationkey``, then ``check_verification_key``: the key
   must parse with the verifier's strict parser, which refuses delta == gamma
   and delta == the G2 generator (no phase-2 contribution).

Without any powers of tau on the machine (no ``DARKPOOL_PTAU``, no shared
file, none cached) builds use ``dev_setup`` instead (``DEV_ZKEY_RECIPE``): an
INSECURE development key written directly from a public tau, alpha, beta and
delta by ``js/dev_zkey.cjs``, one scalar multiplication per key point and no
ptau at all (with delta = 1 it is byte-identical to ``groth16 setup`` on the
development ptau of the same tau, tested). Its toxic waste is as public as the
beacon's above; it only saves the minutes a fresh machine would spend
generating a ptau and running steps 1-3.

Sources: snarkjs README "Phase 2" (``zkey contribute``/``beacon``/``verify``);
Groth16, "On the Size of Pairing-based Non-interactive Arguments" (2016).
"""

import json
import re
from pathlib import Path

from prover.errors import ToolchainError
from prover.toolchain import tools
from prover.toolchain.ptau import DEV_PTAU_BEACON
from verifier import groth16

# The development phase-2 beacon: public, fixed, clearly labelled. snarkjs
# hashes it 2^DEV_PHASE2_BEACON_ITERATIONS_EXP times to derive delta's scalar.
DEV_PHASE2_BEACON = "6461726b706f6f6c2064657620706861736532206265616300000000000000"
DEV_PHASE2_BEACON_ITERATIONS_EXP = 10
DEV_PHASE2_NAME = "darkpool INSECURE development phase-2 beacon"

# Names the setup procedure in the cache key: change it when the recipe changes.
SETUP_RECIPE = (
    "groth16-setup/phase2-beacon:"
    f"{DEV_PHASE2_BEACON}:{DEV_PHASE2_BEACON_ITERATIONS_EXP}/zkey-verify-init/v2"
)

# The ptau-free development recipe: tau, alpha, beta derive from the same public
# seed as the development ptau (prover.toolchain.ptau.DEV_PTAU_BEACON), delta from it too.
DEV_ZKEY_SCRIPT = Path(__file__).resolve().parent / "js" / "dev_zkey.cjs"
DEV_ZKEY_SEED = DEV_PTAU_BEACON
DEV_ZKEY_RECIPE = f"dev-known-tau-zkey:{DEV_ZKEY_SEED}/v1"

_HEX_RE = re.compile(r"[0-9a-fA-F]{2,128}")
_CONTRIBUTION_RE = re.compile(r"contribution #(\d+) (.*):\s*$", re.MULTILINE)
_MAX_ITERATIONS_EXP = 63
_MIN_ITERATIONS_EXP = 10


def setup(r1cs: Path, ptau: Path, out_dir: Path) -> tuple[Path, Path]:
    """The development recipe above; returns (zkey, verification_key.json) in ``out_dir``.

    Raises ``ToolchainError`` (one line) if a step fails, the zkey does not
    verify, or the exported key is refused by the verifier's parser.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    initial = out_dir / "circuit_0000.zkey"
    zkey = out_dir / "circuit.zkey"
    vkey = out_dir / "verification_key.json"
    new_zkey(r1cs, ptau, initial)
    beacon(initial, zkey, DEV_PHASE2_BEACON, DEV_PHASE2_BEACON_ITERATIONS_EXP, DEV_PHASE2_NAME)
    verify_zkey_from_init(initial, ptau, zkey)
    initial.unlink()
    export_verification_key(zkey, vkey)
    return zkey, vkey


def dev_setup(r1cs: Path, out_dir: Path) -> tuple[Path, Path]:
    """The ptau-free INSECURE development key (``DEV_ZKEY_RECIPE``); (zkey, vkey json).

    ``snarkjs zkey verify`` cannot check it (there is no ptau); the exported
    key still passes ``check_verification_key`` (delta is neither gamma nor
    the generator) and proofs under it verify (tests/prover/test_dev_zkey.py).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    zkey = out_dir / "circuit.zkey"
    vkey = out_dir / "verification_key.json"
    tools._run(
        "development zkey",
        [tools.node_executable(), DEV_ZKEY_SCRIPT, Path(r1cs), DEV_ZKEY_SEED, zkey],
        cwd=tools.project_root(),
    )
    export_verification_key(zkey, vkey)
    return zkey, vkey


def new_zkey(r1cs: Path, ptau: Path, out: Path) -> Path:
    """``snarkjs groth16 setup``: the initial zkey (no contribution yet: not usable alone)."""
    tools._snarkjs("groth16 setup", "groth16", "setup", Path(r1cs), Path(ptau), Path(out))
    return Path(out)


def contribute(previous: Path, out: Path, name: str, entropy: str) -> str:
    """``snarkjs zkey contribute``: one party's phase-2 contribution; returns its hash line.

    ``entropy`` is mixed with snarkjs' own OS randomness; the party must then
    forget both (the toxic waste is delta's new scalar).
    """
    if not entropy:
        raise ToolchainError("a contribution needs non-empty entropy")
    output = tools._snarkjs(
        "zkey contribute",
        "zkey",
        "contribute",
        Path(previous),
        Path(out),
        f"--name={name}",
        f"-e={entropy}",
    )
    return _contribution_hash(output)


def beacon(previous: Path, out: Path, beacon_hex: str, iterations_exp: int, name: str) -> str:
    """``snarkjs zkey beacon``: a final contribution from a public random value; returns its hash.

    ``beacon_hex`` is the public randomness (e.g. a future block hash), hashed
    ``2**iterations_exp`` times (10..63) to derive the contribution.
    """
    if _HEX_RE.fullmatch(beacon_hex) is None or len(beacon_hex) % 2:
        raise ToolchainError(f"beacon {beacon_hex!r} is not an even-length hex string (1-64 bytes)")
    if not _MIN_ITERATIONS_EXP <= iterations_exp <= _MAX_ITERATIONS_EXP:
        raise ToolchainError(
            f"beacon iterations exponent {iterations_exp} is outside "
            f"{_MIN_ITERATIONS_EXP}..{_MAX_ITERATIONS_EXP}"
        )
    output = tools._snarkjs(
        "zkey beacon",
        "zkey",
        "beacon",
        Path(previous),
        Path(out),
        beacon_hex,
        str(iterations_exp),
        f"-n={name}",
    )
    return _contribution_hash(output)


def verify_zkey(r1cs: Path, ptau: Path, zkey: Path) -> list[str]:
    """``snarkjs zkey verify``: ``zkey`` belongs to ``r1cs`` + ``ptau`` and every contribution
    is well formed; returns the contribution names, oldest first.

    Raises ``ToolchainError`` (one line) if it does not verify or has no contribution.
    """
    output = tools._snarkjs(
        "zkey verify", "zkey", "verify", Path(r1cs), Path(ptau), Path(zkey), verdict=True
    )
    return _verified_contributions(output, zkey, f"{Path(r1cs).name} and {Path(ptau).name}")


def verify_zkey_from_init(initial: Path, ptau: Path, zkey: Path) -> list[str]:
    """``snarkjs zkey verify init``: ``zkey`` extends ``initial`` by well-formed contributions.

    As ``verify_zkey``, but from an initial zkey this process computed itself.
    """
    output = tools._snarkjs(
        "zkey verify init",
        "zkvi",  # the CLI reads "zkey verify init ..." as "zkey verify" + arguments
        Path(initial),
        Path(ptau),
        Path(zkey),
        verdict=True,
    )
    return _verified_contributions(output, zkey, f"{Path(initial).name} and {Path(ptau).name}")


def _verified_contributions(output: str, zkey: Path, against: str) -> list[str]:
    if "ZKey Ok!" not in output:
        raise ToolchainError(
            f"snarkjs zkey verify: {Path(zkey).name} does not match {against}: "
            f"{tools._summarise(output)}"
        )
    # snarkjs lists the newest contribution first.
    found = sorted((int(m.group(1)), m.group(2).strip()) for m in _CONTRIBUTION_RE.finditer(output))
    names = [name for _, name in found]
    if not names:
        raise ToolchainError(
            f"{Path(zkey).name} has no phase-2 contribution: anyone could forge its proofs"
        )
    return names


def export_verification_key(zkey: Path, out: Path) -> Path:
    """``zkey export verificationkey`` to ``out``, then ``check_verification_key`` on it."""
    tools._snarkjs(
        "zkey export verificationkey", "zkey", "export", "verificationkey", Path(zkey), Path(out)
    )
    try:
        obj = json.loads(Path(out).read_text())
    except (OSError, ValueError) as exc:
        raise ToolchainError(f"{out}: unreadable verification key: {exc}") from exc
    check_verification_key(obj, str(out))
    return Path(out)


def check_verification_key(obj: object, where: str) -> None:
    """Parse ``obj`` with the verifier's strict key parser; one-line ``ToolchainError`` if refused.

    The parser refuses delta == gamma and delta == the G2 generator, so a key
    without a phase-2 contribution never leaves the toolchain.
    """
    try:
        groth16.VerificationKey.from_snarkjs(obj)
    except groth16.Groth16Error as exc:
        raise ToolchainError(f"{where}: verification key refused: {exc}") from exc


def _contribution_hash(output: str) -> str:
    """The 64-byte contribution hash snarkjs prints after a contribution, as one hex string."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "Contribution Hash" in line:
            words = " ".join(lines[index + 1 : index + 5])
            words = re.sub(r"\[INFO\]\s*snarkJS:", " ", words)
            digest = "".join(re.findall(r"\b[0-9a-f]{8}\b", words))
            if len(digest) == 128:
                return digest
    raise ToolchainError(f"snarkjs printed no contribution hash: {tools._summarise(output)}")
