pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// OrderHash(ORDER_TAG): the order commitment
//   h = Poseidon(ORDER_TAG, account, orderId, market, side, size, limitPrice,
//                expiry, flags, salt)
// exactly as verifier.account_state.order_hash. flags = reduce-only (0/1).
// Hash only: range checks are the caller's job.
template OrderHash(ORDER_TAG) {
    signal input account;
    signal input orderId;
    signal input market;
    signal input side;
    signal input size;
    signal input limitPrice;
    signal input expiry;
    signal input flags;
    signal input salt;
    signal output h;

    component p = Poseidon(10);
    p.inputs[0] <== ORDER_TAG;
    p.inputs[1] <== account;
    p.inputs[2] <== orderId;
    p.inputs[3] <== market;
    p.inputs[4] <== side;
    p.inputs[5] <== size;
    p.inputs[6] <== limitPrice;
    p.inputs[7] <== expiry;
    p.inputs[8] <== flags;
    p.inputs[9] <== salt;
    h <== p.out;
}

// SlotLeaf: an occupied order slot, Poseidon(orderId, filled, h)
// (verifier.account_state.slot_leaf); an empty slot is 0.
template SlotLeaf() {
    signal input orderId;
    signal input filled;
    signal input h;
    signal output leaf;
    component p = Poseidon(3);
    p.inputs[0] <== orderId;
    p.inputs[1] <== filled;
    p.inputs[2] <== h;
    leaf <== p.out;
}
