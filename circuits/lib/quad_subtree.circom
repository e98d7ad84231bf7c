pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// QuadSubtreeRoot(LEVELS): root of the complete quaternary subtree (LEVELS
// levels, 4^LEVELS leaves in index order) exactly as verifier/quadtree.py:
// node = Poseidon(c0, c1, c2, c3), empty leaf 0. A chunk of consecutive
// accounts c*4^LEVELS .. (c+1)*4^LEVELS - 1 hashes to the account tree's node
// at height LEVELS, position c (verifier.quadtree.quad_root_from_subroots
// rebuilds the root from them). Cost: (4^LEVELS - 1) / 3 Poseidon(4).
template QuadSubtreeRoot(LEVELS) {
    assert(LEVELS >= 0 && LEVELS <= 8);
    var n = 1 << (2 * LEVELS);
    signal input leaves[n];
    signal output root;

    var nodes = (n - 1) \ 3;
    component h[nodes];
    // All nodes, leaves first then each height in order: sizes n, n/4, ... 1.
    signal level[n + nodes];
    for (var i = 0; i < n; i++) { level[i] <== leaves[i]; }
    var k = 0;
    var start = 0;
    var next = n;
    var width = n;
    while (width > 1) {
        for (var j = 0; j < width \ 4; j++) {
            h[k] = Poseidon(4);
            for (var c = 0; c < 4; c++) { h[k].inputs[c] <== level[start + 4 * j + c]; }
            level[next + j] <== h[k].out;
            k++;
        }
        start += width;
        next += width \ 4;
        width = width \ 4;
    }
    root <== level[n + nodes - 1];
}
