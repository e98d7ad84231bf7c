// Golden Baby Jubjub / EdDSA-Poseidon / BLAKE-512 vectors from circomlibjs 0.1.7
// for tests/verifier/test_eddsa.py and test_babyjub.py.
//
// Usage: node eddsa_vectors.js < request.json
// The request (all integers as decimal strings, bytes as hex):
//   {"sign":   [{"key": hex32, "msg": dec}],            -> prv2pub, signPoseidon, verifyPoseidon, packSignature
//    "verify": [{"msg": dec, "R8": [dec, dec], "S": dec, "A": [dec, dec]}],  -> verifyPoseidon
//    "points": [[dec, dec]],                             -> inCurve, inSubgroup, packPoint, unpackPoint
//    "unpack": [hex32],                                  -> unpackPoint (null if rejected)
//    "mul":    [{"P": [dec, dec], "e": dec}],            -> mulPointEscalar
//    "add":    [[[dec, dec], [dec, dec]]],               -> addPoint
//    "blake":  [hex]}                                    -> blake-hash "blake512"
// Prints one JSON object with the same keys, each a list of results in order,
// plus "constants" (Base8, Generator, subOrder, order, A, D).
"use strict";

const fs = require("fs");
const createBlakeHash = require("blake-hash");

async function main() {
  const request = JSON.parse(fs.readFileSync(0, "utf8"));
  const { buildEddsa, buildBabyjub } = await import("circomlibjs");
  const eddsa = await buildEddsa();
  const babyJub = await buildBabyjub();
  const F = babyJub.F;

  const dec = (e) => F.toObject(e).toString();
  const pt = (P) => (P === null ? null : [dec(P[0]), dec(P[1])]);
  const toPt = (xy) => [F.e(BigInt(xy[0])), F.e(BigInt(xy[1]))];
  const hex = (buf) => Buffer.from(buf).toString("hex");

  const out = {
    constants: {
      Base8: pt(babyJub.Base8),
      Generator: pt(babyJub.Generator),
      subOrder: babyJub.subOrder.toString(),
      order: babyJub.order.toString(),
      A: dec(babyJub.A),
      D: dec(babyJub.D),
    },
    sign: [],
    verify: [],
    points: [],
    unpack: [],
    mul: [],
    add: [],
    blake: [],
  };

  for (const { key, msg } of request.sign || []) {
    const prv = Buffer.from(key, "hex");
    const m = F.e(BigInt(msg));
    const A = eddsa.prv2pub(prv);
    const sig = eddsa.signPoseidon(prv, m);
    out.sign.push({
      A: pt(A),
      R8: pt(sig.R8),
      S: sig.S.toString(),
      verify: eddsa.verifyPoseidon(m, sig, A),
      packedA: hex(babyJub.packPoint(A)),
      packedSignature: hex(eddsa.packSignature(sig)),
    });
  }

  for (const v of request.verify || []) {
    const sig = { R8: toPt(v.R8), S: BigInt(v.S) };
    out.verify.push(eddsa.verifyPoseidon(F.e(BigInt(v.msg)), sig, toPt(v.A)));
  }

  for (const xy of request.points || []) {
    const P = toPt(xy);
    const onCurve = babyJub.inCurve(P);
    const packed = babyJub.packPoint(P);
    out.points.push({
      inCurve: onCurve,
      inSubgroup: onCurve ? babyJub.inSubgroup(P) : false,
      packed: hex(packed),
      // unpackPoint clears the sign bit of its argument in place, so pass a copy.
      unpacked: pt(babyJub.unpackPoint(Uint8Array.from(packed))),
    });
  }

  for (const h of request.unpack || []) {
    out.unpack.push(pt(babyJub.unpackPoint(Uint8Array.from(Buffer.from(h, "hex")))));
  }

  for (const { P, e } of request.mul || []) {
    out.mul.push(pt(babyJub.mulPointEscalar(toPt(P), BigInt(e))));
  }

  for (const [P, Q] of request.add || []) {
    out.add.push(pt(babyJub.addPoint(toPt(P), toPt(Q))));
  }

  for (const h of request.blake || []) {
    out.blake.push(createBlakeHash("blake512").update(Buffer.from(h, "hex")).digest("hex"));
  }

  process.stdout.write(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  },
);
