pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "account_state.circom";

// SettledAccount(M): opens an account leaf of the recycling-order state and
// settles its funding, for statements that read or rewrite an account:
//   leaf           = AccountStateLeaf(pubX, pubY, balance, Poseidon(positions),
//                    Poseidon(checkpoints), orderRoot, nonce, blinding)
//                    (the leaf as stored; verifier.account_state.account_state_leaf);
//   positionsHash  = Poseidon(positions) (reuse it for a new leaf that keeps them);
//   settledBalance = balance - sum_m positions[m] * (funding[m] - checkpoints[m])
//                    (FundingPayment: a long pays when the index rose).
// A new leaf written after settling carries checkpointsHash = Poseidon(funding)
// (compute it once per statement). Hashes and the payment only: range checks
// are the caller's (settledBalance, or what it derives from it, must be
// signed-range-checked to BALANCE_BITS). Preconditions: as FundingPayment
// (positions < 2^(POSITION_BITS-1), funding and checkpoints < 2^(FUNDING_BITS-1)
// in absolute value), which hold for leaves written by darkpool circuits and a
// signed-range-checked public funding vector.
template SettledAccount(M) {
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positions[M];
    signal input checkpoints[M];
    signal input orderRoot;
    signal input nonce;
    signal input blinding;
    signal input funding[M];
    signal output leaf;
    signal output positionsHash;
    signal output settledBalance;

    component posHash = Poseidon(M);
    posHash.inputs <== positions;
    component ckHash = Poseidon(M);
    ckHash.inputs <== checkpoints;
    component h = AccountStateLeaf();
    h.pubX <== pubX;
    h.pubY <== pubY;
    h.balance <== balance;
    h.positionsHash <== posHash.out;
    h.checkpointsHash <== ckHash.out;
    h.orderRoot <== orderRoot;
    h.nonce <== nonce;
    h.blinding <== blinding;
    leaf <== h.leaf;
    positionsHash <== posHash.out;

    component pay = FundingPayment(M);
    pay.positions <== positions;
    pay.checkpoints <== checkpoints;
    pay.funding <== funding;
    settledBalance <== balance - pay.payment;
}
