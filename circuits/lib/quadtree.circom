pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";

// Quaternary Poseidon Merkle trees (the account tree and each account's order
// slot tree), exactly as verifier/quadtree.py: fixed depth in LEVELS, empty
// leaf 0, node = Poseidon(c0, c1, c2, c3). A leaf index is given by 2 bits per
// level (LSB first): at level l the node is child (bits[2l] + 2 bits[2l+1]) of
// its parent, and the path lists the parent's other three children in order.
// A level costs one Poseidon(4) (297 constraints) + 7, against two Poseidon(2)
// (480) for two binary levels.

// QuadLevel: one hashing step. Given the node, its three siblings (the
// parent's other children in increasing position) and the position bits
// (b0, b1) (precondition: boolean), outputs the parent.
template QuadLevel() {
    signal input node;
    signal input siblings[3];
    signal input b0;
    signal input b1;
    signal output parent;

    // One-hot of the position p = b0 + 2 b1.
    signal e3;
    e3 <== b0 * b1;
    signal e0;
    signal e1;
    signal e2;
    e0 <== 1 - b0 - b1 + e3;
    e1 <== b0 - e3;
    e2 <== b1 - e3;

    // p = 0: (n, s0, s1, s2); 1: (s0, n, s1, s2); 2: (s0, s1, n, s2); 3: (s0, s1, s2, n).
    signal c0;
    signal c1a;
    signal c1;
    signal c2a;
    signal c2;
    signal c3;
    c0 <== siblings[0] + e0 * (node - siblings[0]);
    c1a <== e1 * (node - siblings[1]);
    c1 <== siblings[1] + c1a + e0 * (siblings[0] - siblings[1]);
    c2a <== e2 * (node - siblings[1]);
    c2 <== siblings[1] + c2a + e3 * (siblings[2] - siblings[1]);
    c3 <== siblings[2] + e3 * (node - siblings[2]);

    component h = Poseidon(4);
    h.inputs[0] <== c0;
    h.inputs[1] <== c1;
    h.inputs[2] <== c2;
    h.inputs[3] <== c3;
    parent <== h.out;
}

// QuadRootFromPath(LEVELS): root of the quaternary tree in which `leaf` sits at
// the position given by the (boolean, precondition) index bits.
template QuadRootFromPath(LEVELS) {
    assert(LEVELS >= 1);
    signal input leaf;
    signal input bits[2 * LEVELS];
    signal input siblings[LEVELS][3];
    signal output root;

    component lv[LEVELS];
    for (var l = 0; l < LEVELS; l++) {
        lv[l] = QuadLevel();
        lv[l].node <== l == 0 ? leaf : lv[l - 1].parent;
        lv[l].siblings <== siblings[l];
        lv[l].b0 <== bits[2 * l];
        lv[l].b1 <== bits[2 * l + 1];
    }
    root <== lv[LEVELS - 1].parent;
}

// ConditionalQuadUpdate(LEVELS): when enabled = 1, proves oldLeaf sits at the
// path (bits, siblings) under oldRoot and outputs the root with newLeaf there
// instead; when enabled = 0 requires nothing and outputs oldRoot unchanged.
// Preconditions: enabled and bits[] boolean.
template ConditionalQuadUpdate(LEVELS) {
    signal input enabled;
    signal input oldRoot;
    signal input oldLeaf;
    signal input newLeaf;
    signal input bits[2 * LEVELS];
    signal input siblings[LEVELS][3];
    signal output newRoot;

    component before = QuadRootFromPath(LEVELS);
    before.leaf <== oldLeaf;
    before.bits <== bits;
    before.siblings <== siblings;
    enabled * (before.root - oldRoot) === 0;

    component after = QuadRootFromPath(LEVELS);
    after.leaf <== newLeaf;
    after.bits <== bits;
    after.siblings <== siblings;
    newRoot <== oldRoot + enabled * (after.root - oldRoot);
}
