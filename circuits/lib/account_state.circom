pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// AccountStateLeaf: the account-tree leaf of the recycling-order-state design
//   Poseidon(pubX, pubY, balance, positionsHash, checkpointsHash, orderRoot, nonce, blinding)
// exactly as verifier.account_state.account_state_leaf, where
// positionsHash = Poseidon(positions[0..M)), checkpointsHash =
// Poseidon(funding checkpoints[0..M)) and orderRoot is the root of the
// account's order slot tree. The vector hashes are inputs so that a statement
// can compute a shared one (the current funding index) once. Hash only: range
// checks are the caller's job.
template AccountStateLeaf() {
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positionsHash;
    signal input checkpointsHash;
    signal input orderRoot;
    signal input nonce;
    signal input blinding;
    signal output leaf;

    component h = Poseidon(8);
    h.inputs[0] <== pubX;
    h.inputs[1] <== pubY;
    h.inputs[2] <== balance;
    h.inputs[3] <== positionsHash;
    h.inputs[4] <== checkpointsHash;
    h.inputs[5] <== orderRoot;
    h.inputs[6] <== nonce;
    h.inputs[7] <== blinding;
    leaf <== h.out;
}

// FundingPayment(M): payment = sum_m positions[m] * (funding[m] - checkpoints[m]),
// in quote units (a long pays when the index rose since its checkpoint). The
// caller subtracts it from the balance and range-checks the result.
// Preconditions: positions < 2^(POSITION_BITS-1) and funding, checkpoints
// < 2^(FUNDING_BITS-1) in absolute value (so the sum cannot wrap).
template FundingPayment(M) {
    signal input positions[M];
    signal input checkpoints[M];
    signal input funding[M];
    signal output payment;
    signal terms[M];
    var acc = 0;
    for (var m = 0; m < M; m++) {
        terms[m] <== positions[m] * (funding[m] - checkpoints[m]);
        acc += terms[m];
    }
    payment <== acc;
}
