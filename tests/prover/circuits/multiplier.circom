pragma circom 2.1.0;

// Test circuit for prover/toolchain (not part of the product).
//
// Claim: the prover knows a != 0 and b with a * b == product (public), and
// commitment == Poseidon(a + b, b). It exercises a circomlib include, a local
// include resolved next to this file, a public input, a public output, a
// witness-time assert and a linear intermediate that --O2 eliminates.

include "circomlib/circuits/poseidon.circom";
include "lib/product.circom";

template Multiplier() {
    signal input product;
    signal input a;
    signal input b;
    signal output commitment;

    component mul = Product();
    mul.a <== a;
    mul.b <== b;
    mul.out === product;

    // Witness-time check only (not a constraint): lets tests see a clean assert failure.
    assert(a != 0);

    // Linear, so --O2 substitutes it away: tests use it for the "optimised away" error.
    signal sum;
    sum <== a + b;

    component hash = Poseidon(2);
    hash.inputs[0] <== sum;
    hash.inputs[1] <== b;
    commitment <== hash.out;
}

component main {public [product]} = Multiplier();
