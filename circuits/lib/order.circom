pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// OrderCommitment: h = Poseidon(ORDER_TAG, account, market, side, size,
// limitPrice, expiry, salt), exactly as verifier.encoding.order_commitment.
// The tag binds the commitment (and the signature over it) to "order" and to
// this exchange. Range checks are the caller's job.
template OrderCommitment(ORDER_TAG) {
    signal input account;
    signal input market;
    signal input side;
    signal input size;
    signal input limitPrice;
    signal input expiry;
    signal input salt;
    signal output h;

    component p = Poseidon(8);
    p.inputs[0] <== ORDER_TAG;
    p.inputs[1] <== account;
    p.inputs[2] <== market;
    p.inputs[3] <== side;
    p.inputs[4] <== size;
    p.inputs[5] <== limitPrice;
    p.inputs[6] <== expiry;
    p.inputs[7] <== salt;
    h <== p.out;
}
