pragma circom 2.0.0;

// Test-only circuit for tests/verifier/test_merkle.py: recomputes a depth-4
// Poseidon Merkle root in-circuit with circomlib's Poseidon(2), so the Python
// tree conventions (node = Poseidon(left, right), index bit i = 0 means the
// current node is the left child at level i) are checked against circom
// itself. Also exposes one bare Poseidon(2) for a direct hash comparison.

include "circomlib/circuits/poseidon.circom";

template MerkleCheck(depth) {
    signal input leaf;
    signal input pathIndices[depth];
    signal input siblings[depth];
    signal input pairLeft;
    signal input pairRight;
    signal output root;
    signal output pairHash;

    component hashers[depth];
    signal nodes[depth + 1];
    signal lefts[depth];
    signal rights[depth];
    nodes[0] <== leaf;
    for (var i = 0; i < depth; i++) {
        pathIndices[i] * (1 - pathIndices[i]) === 0;
        // bit 0: (node, sibling); bit 1: (sibling, node).
        lefts[i] <== nodes[i] + pathIndices[i] * (siblings[i] - nodes[i]);
        rights[i] <== siblings[i] + nodes[i] - lefts[i];
        hashers[i] = Poseidon(2);
        hashers[i].inputs[0] <== lefts[i];
        hashers[i].inputs[1] <== rights[i];
        nodes[i + 1] <== hashers[i].out;
    }
    root <== nodes[depth];

    component pair = Poseidon(2);
    pair.inputs[0] <== pairLeft;
    pair.inputs[1] <== pairRight;
    pairHash <== pair.out;
}

component main = MerkleCheck(4);
