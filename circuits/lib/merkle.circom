pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";

// Merkle trees here are binary Poseidon trees of fixed depth with empty leaf 0,
// node = Poseidon(left, right), exactly as verifier/merkle.py.
// A leaf index is given as an integer; bit i of the index (LSB first) says
// whether the node at level i is a right child (1) or a left child (0).

// MerkleLevel: one hashing step. Given the current node, its sibling and the
// direction bit `isRight` (precondition: boolean), outputs the parent.
template MerkleLevel() {
    signal input node;
    signal input sibling;
    signal input isRight;
    signal output parent;

    // left = isRight ? sibling : node ; right = isRight ? node : sibling
    signal d;
    d <== isRight * (sibling - node);
    component h = Poseidon(2);
    h.inputs[0] <== node + d;
    h.inputs[1] <== sibling - d;
    parent <== h.out;
}

// MerkleIndexBits(D): proves index < 2^D and outputs its D bits.
template MerkleIndexBits(D) {
    signal input index;
    signal output bits[D];
    component n2b = Num2Bits(D);
    n2b.in <== index;
    for (var i = 0; i < D; i++) { bits[i] <== n2b.out[i]; }
}

// MerkleRootFromPath(D): root of the tree in which `leaf` sits at the position
// given by the (boolean, precondition) index bits with the given siblings.
template MerkleRootFromPath(D) {
    signal input leaf;
    signal input bits[D];
    signal input siblings[D];
    signal output root;

    component lv[D];
    for (var i = 0; i < D; i++) {
        lv[i] = MerkleLevel();
        lv[i].node <== i == 0 ? leaf : lv[i - 1].parent;
        lv[i].sibling <== siblings[i];
        lv[i].isRight <== bits[i];
    }
    root <== lv[D - 1].parent;
}

// MerkleMembership(D): proves `leaf` is at `index` in the tree with `root`.
template MerkleMembership(D) {
    signal input leaf;
    signal input index;
    signal input siblings[D];
    signal input root;

    component ib = MerkleIndexBits(D);
    ib.index <== index;
    component r = MerkleRootFromPath(D);
    r.leaf <== leaf;
    r.bits <== ib.bits;
    r.siblings <== siblings;
    r.root === root;
}

// MerkleUpdate(D): proves that `oldRoot` has `oldLeaf` at `index` and outputs
// the root after replacing it by `newLeaf` (same path, same siblings).
template MerkleUpdate(D) {
    signal input oldRoot;
    signal input oldLeaf;
    signal input newLeaf;
    signal input index;
    signal input siblings[D];
    signal output newRoot;

    component ib = MerkleIndexBits(D);
    ib.index <== index;
    component before = MerkleRootFromPath(D);
    before.leaf <== oldLeaf;
    before.bits <== ib.bits;
    before.siblings <== siblings;
    before.root === oldRoot;

    component after = MerkleRootFromPath(D);
    after.leaf <== newLeaf;
    after.bits <== ib.bits;
    after.siblings <== siblings;
    newRoot <== after.root;
}

// ConditionalMerkleUpdate(D): when enabled = 1, proves oldLeaf sits at the path
// (bits, siblings) under oldRoot and outputs the root with newLeaf there instead;
// when enabled = 0 requires nothing and outputs oldRoot unchanged.
// Preconditions: enabled and bits[] boolean.
template ConditionalMerkleUpdate(D) {
    signal input enabled;
    signal input oldRoot;
    signal input oldLeaf;
    signal input newLeaf;
    signal input bits[D];
    signal input siblings[D];
    signal output newRoot;

    component before = MerkleRootFromPath(D);
    before.leaf <== oldLeaf;
    before.bits <== bits;
    before.siblings <== siblings;
    enabled * (before.root - oldRoot) === 0;

    component after = MerkleRootFromPath(D);
    after.leaf <== newLeaf;
    after.bits <== bits;
    after.siblings <== siblings;
    newRoot <== oldRoot + enabled * (after.root - oldRoot);
}

// MerkleSubtreeRoot(H): root of a complete subtree of height H over 2^H leaves
// (used by solvency chunks; the verifier places the subroot in the full tree).
template MerkleSubtreeRoot(H) {
    signal input leaves[1 << H];
    signal output root;
    var n = 1 << H;
    component h[n - 1];
    // Nodes are numbered heap-style from the leaves up: level sizes n/2, n/4, ... 1.
    var k = 0;
    var width = n;
    var offsetPrev = 0;
    signal level[2 * n - 1];
    for (var i = 0; i < n; i++) { level[i] <== leaves[i]; }
    var next = n;
    var start = 0;
    while (width > 1) {
        for (var j = 0; j < width / 2; j++) {
            h[k] = Poseidon(2);
            h[k].inputs[0] <== level[start + 2 * j];
            h[k].inputs[1] <== level[start + 2 * j + 1];
            level[next + j] <== h[k].out;
            k++;
        }
        start += width;
        next += width / 2;
        width = width / 2;
    }
    root <== level[2 * n - 2];
}
