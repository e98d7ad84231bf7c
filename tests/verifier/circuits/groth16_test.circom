pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// Test statement for the Groth16 verifier (tests/verifier/test_groth16.py,
// benchmarks/verify.py): "I know (x, k) with commitment = Poseidon(x, k) and
// y = slope * x + commitment".
// Public signals, in snarkjs order: commitment, y (outputs), slope (input).
// slope is last on purpose: a proof with slope = 0 shows that snarkjs accepts
// a public list with that trailing zero dropped, which our verifier must not.
template Groth16Test() {
    signal input slope;
    signal input x;
    signal input k;
    signal output commitment;
    signal output y;

    component h = Poseidon(2);
    h.inputs[0] <== x;
    h.inputs[1] <== k;
    commitment <== h.out;
    y <== slope * x + commitment;
}

component main {public [slope]} = Groth16Test();
