// Golden Poseidon vectors from circomlibjs for tests/verifier/test_poseidon.py.
//
// Usage: node poseidon_vectors.js SEED RANDOM_PER_ARITY
// Prints JSON {"vectors": [{"inputs": [dec...], "wasm": dec, "reference": dec, "opt": dec}]}.
// For each arity 1..16: an all-zero vector, an all-(R-1) vector, and
// RANDOM_PER_ARITY vectors drawn from a seeded splitmix64 stream (the first of
// them pinned to start with 0 and end with R-1), so the Python side can
// reproduce the inputs from the seed alone. All three circomlibjs
// implementations are evaluated so a disagreement among them is visible too.
"use strict";

const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const MASK64 = (1n << 64n) - 1n;

function splitmix64(seed) {
  let state = BigInt.asUintN(64, BigInt(seed));
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
}

async function main() {
  const [seedArg, perArityArg] = process.argv.slice(2);
  if (seedArg === undefined || perArityArg === undefined) {
    throw new Error("usage: node poseidon_vectors.js SEED RANDOM_PER_ARITY");
  }
  const next = splitmix64(seedArg);
  const fieldElement = () => {
    let x = 0n;
    for (let i = 0; i < 4; i++) x = (x << 64n) | next();
    return x % R;
  };

  const { buildPoseidon, buildPoseidonReference, buildPoseidonOpt } = await import("circomlibjs");
  const wasm = await buildPoseidon();
  const reference = await buildPoseidonReference();
  const opt = await buildPoseidonOpt();

  const vectors = [];
  for (let n = 1; n <= 16; n++) {
    const cases = [new Array(n).fill(0n), new Array(n).fill(R - 1n)];
    for (let k = 0; k < Number(perArityArg); k++) {
      const inputs = Array.from({ length: n }, fieldElement);
      if (k === 0) {
        inputs[0] = 0n;
        inputs[n - 1] = R - 1n;
      }
      cases.push(inputs);
    }
    for (const inputs of cases) {
      vectors.push({
        inputs: inputs.map(String),
        wasm: wasm.F.toObject(wasm(inputs)).toString(),
        reference: reference.F.toObject(reference(inputs)).toString(),
        opt: opt.F.toObject(opt(inputs)).toString(),
      });
    }
  }
  process.stdout.write(JSON.stringify({ vectors }) + "\n");
  // ffjavascript may keep worker threads alive; the output is complete here.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
