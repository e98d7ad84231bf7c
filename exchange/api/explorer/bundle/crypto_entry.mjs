// Entry point of the self-check page's crypto bundle (exchange/api/explorer/routes.crypto_bundle
// builds it with prover/jsbundle.py and esbuild).
// Exposes window.darkpoolCrypto: Poseidon and EdDSA-Poseidon from circomlibjs, the same
// implementations the project's golden vectors compare verifier/ against. Runs only in the
// trader's browser; nothing here sends anything anywhere.
import { Buffer } from "buffer";
globalThis.Buffer = globalThis.Buffer || Buffer;

import { buildPoseidon, buildEddsa } from "circomlibjs";

let ready = null;

async function load() {
  const eddsa = await buildEddsa();
  const poseidon = eddsa.poseidon;
  const F = poseidon.F;
  return {
    // Poseidon over canonical field elements (BigInt), returning a BigInt.
    poseidon: (inputs) => F.toObject(poseidon(inputs.map((x) => BigInt(x)))),
    // Public key of a 32-byte seed, as decimal strings.
    publicKey: (seed) => {
      const [x, y] = eddsa.prv2pub(Buffer.from(seed));
      return { x: F.toObject(x).toString(), y: F.toObject(y).toString() };
    },
    // EdDSA-Poseidon signature on field element msg, as verifier.eddsa.signature_to_dict.
    sign: (seed, msg) => {
      const sig = eddsa.signPoseidon(Buffer.from(seed), F.e(BigInt(msg)));
      return {
        R8: { x: F.toObject(sig.R8[0]).toString(), y: F.toObject(sig.R8[1]).toString() },
        S: sig.S.toString(),
      };
    },
  };
}

globalThis.darkpoolCrypto = {
  ready: () => {
    if (ready === null) ready = load();
    return ready;
  },
};
