pragma circom 2.1.6;

include "circomlib/circuits/eddsaposeidon.circom";
include "circomlib/circuits/babyjub.circom";

// SignatureCheck: proves (R8, S) is a valid EdDSA-Poseidon signature of `msg`
// under public key A, when `enabled` = 1 (precondition: enabled is boolean).
// circomlib's verifier range-checks S < l and checks 8A != identity, but does
// not check that R8 is on the curve; we add that so a signature has exactly
// one accepted encoding (no malleability through off-curve R8).
template SignatureCheck() {
    signal input enabled;
    signal input Ax;
    signal input Ay;
    signal input R8x;
    signal input R8y;
    signal input S;
    signal input msg;

    component v = EdDSAPoseidonVerifier();
    v.enabled <== enabled;
    v.Ax <== Ax;
    v.Ay <== Ay;
    v.R8x <== R8x;
    v.R8y <== R8y;
    v.S <== S;
    v.M <== msg;

    // Curve check a*x^2 + y^2 = 1 + d*x^2*y^2, enforced only when enabled.
    signal x2;
    signal y2;
    signal x2y2;
    x2 <== R8x * R8x;
    y2 <== R8y * R8y;
    x2y2 <== x2 * y2;
    enabled * (168700 * x2 + y2 - 1 - 168696 * x2y2) === 0;
}
