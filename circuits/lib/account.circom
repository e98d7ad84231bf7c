pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// AccountLeaf(M): the account-tree leaf
//   Poseidon(pubX, pubY, balance, Poseidon(positions[0..M)), nonce, blinding)
// exactly as verifier.encoding.account_leaf. Hashes only; range checks on the
// fields are the caller's job (each statement checks what it reads or writes).
template AccountLeaf(M) {
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positions[M];
    signal input nonce;
    signal input blinding;
    signal output leaf;

    component ph = Poseidon(M);
    for (var i = 0; i < M; i++) { ph.inputs[i] <== positions[i]; }
    component h = Poseidon(6);
    h.inputs[0] <== pubX;
    h.inputs[1] <== pubY;
    h.inputs[2] <== balance;
    h.inputs[3] <== ph.out;
    h.inputs[4] <== nonce;
    h.inputs[5] <== blinding;
    leaf <== h.out;
}
