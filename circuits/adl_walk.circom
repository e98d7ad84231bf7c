pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "widths.circom";
include "bits.circom";
include "account_settle.circom";
include "quad_subtree.circom";
include "rank_key.circom";

// AdlWalkChunk(CHUNK_LEVELS, M): ADL RANKING COMPLETENESS on the account-state
// leaf and the quaternary account tree, over the K = 4^CHUNK_LEVELS
// consecutive accounts chunkIndex*K .. chunkIndex*K + K - 1 (chunked exactly
// like health_sweep / solvency_walk).
//
// Proves, for hidden account leaves (isEmpty[k] ? 0 : AccountStateLeaf(...)):
//   * subRoot is the root of the complete CHUNK_LEVELS-level quaternary
//     subtree of those leaves; an empty slot has balance 0 and positions 0;
//   * count = the number of accounts a of the chunk that RANK ABOVE the
//     threshold on the public side of `market`:
//       a != 0 (the insurance fund is never counted),
//       side * position_market(a) >= 1 (side = +1 counts longs, -1 shorts;
//         positions are taken from the stored leaf: funding moves balances only),
//       key(a) > thresholdKey, or key(a) == thresholdKey and a < thresholdIndex,
//     where key(a) is AdlRankKey (circuits/lib/rank_key.circom, the SAME
//     template deleverage.circom publishes as rankKey) of a's leaf after
//     paying its pending funding to the public funding indices, at the public
//     marks. The comparison is one signed range check of
//       (key(a) - thresholdKey) * 2^40 + (thresholdIndex - a) - 1 >= 0,
//     exact because keys are < 2^129 and indices < 2^40.
// Ranges: prices (PRICE_BITS), funding (FUNDING_BITS, signed), chunkIndex
// (32 bits), thresholdKey (MARGIN_BITS + 1), thresholdIndex (40 bits), side
// in {1, -1}, market in [0, M).
//
// Not proved here (the verifier's job, verifier/statements/adl_walk.py and
// verifier/ledger/adl.py): that the chunks are 0..n-1 and their subroots
// rebuild the account root before the market's first ADL trade, that prices
// are the entry's signed marks and funding the current indices, and that
// side, market and threshold are the ones the entry's trades imply.
// Preconditions (hold for trees only written by darkpool circuits): stored
// positions and checkpoints were range-checked when written.
template AdlWalkChunk(CHUNK_LEVELS, M) {
    assert(CHUNK_LEVELS >= 0 && CHUNK_LEVELS <= 4);
    assert(M >= 1 && M <= 16);
    var K = 1 << (2 * CHUNK_LEVELS);
    var INDEX_BITS = 40;

    // Public inputs, in this order (verifier.statements.adl_walk.PUBLIC_NAMES).
    signal input chunkIndex;
    signal input subRoot;
    signal input market;
    signal input side;
    signal input thresholdKey;
    signal input thresholdIndex;
    signal input count;
    signal input prices[M];
    signal input funding[M];

    // Private: the accounts of the chunk and their rank-key divisions.
    signal input isEmpty[K];
    signal input pubX[K];
    signal input pubY[K];
    signal input balance[K];
    signal input positions[K][M];
    signal input checkpoints[K][M];
    signal input orderRoot[K];
    signal input nonce[K];
    signal input blinding[K];
    signal input keyQuotient[K];
    signal input keyRemainder[K];

    // ---- public parameters ----
    component priceRange[M];
    component fundingRange[M];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        fundingRange[m] = SignedRangeCheck(FUNDING_BITS());
        fundingRange[m].in <== funding[m];
    }
    component chunkRange = RangeCheck(32);
    chunkRange.in <== chunkIndex;
    component keyRange = RangeCheck(MARGIN_BITS() + 1);
    keyRange.in <== thresholdKey;
    component indexRange = RangeCheck(INDEX_BITS);
    indexRange.in <== thresholdIndex;
    side * side === 1;
    component sel = OneHot(M);
    sel.sel <== market;
    // Account index 0 (the fund) is slot 0 of chunk 0.
    component firstChunk = IsZero();
    firstChunk.in <== chunkIndex;

    component opened[K];
    component key[K];
    component pick[K];
    component onSide[K];
    component above[K];
    signal leaf[K];
    signal ranked[K];
    signal counted[K];
    var total = 0;
    for (var k = 0; k < K; k++) {
        isEmpty[k] * (isEmpty[k] - 1) === 0;
        isEmpty[k] * balance[k] === 0;
        for (var m = 0; m < M; m++) { isEmpty[k] * positions[k][m] === 0; }

        opened[k] = SettledAccount(M);
        opened[k].pubX <== pubX[k];
        opened[k].pubY <== pubY[k];
        opened[k].balance <== balance[k];
        opened[k].positions <== positions[k];
        opened[k].checkpoints <== checkpoints[k];
        opened[k].orderRoot <== orderRoot[k];
        opened[k].nonce <== nonce[k];
        opened[k].blinding <== blinding[k];
        opened[k].funding <== funding;
        leaf[k] <== (1 - isEmpty[k]) * opened[k].leaf;

        // The rank key (range-checks the settled balance and the positions).
        key[k] = AdlRankKey(M);
        key[k].balance <== opened[k].settledBalance;
        key[k].positions <== positions[k];
        key[k].prices <== prices;
        key[k].quotient <== keyQuotient[k];
        key[k].remainder <== keyRemainder[k];

        // On the counted side: side * s >= 1 (|s| < 2^47, so 49 signed bits are exact).
        pick[k] = Select(M);
        pick[k].values <== positions[k];
        pick[k].onehot <== sel.out;
        onSide[k] = SignedRangeCheck(POSITION_BITS() + 1);
        onSide[k].in <== side * pick[k].out - 1;

        // Ranked above the threshold: (key - tk) * 2^40 + (ti - a) - 1 >= 0.
        above[k] = SignedRangeCheck(MARGIN_BITS() + INDEX_BITS + 3);
        above[k].in <== (key[k].key - thresholdKey) * (1 << INDEX_BITS)
            + thresholdIndex - (chunkIndex * K + k) - 1;

        ranked[k] <== (1 - onSide[k].neg) * (1 - above[k].neg);
        if (k == 0) {
            counted[k] <== ranked[k] * (1 - firstChunk.out);
        } else {
            counted[k] <== ranked[k];
        }
        total += counted[k];
    }
    count === total;

    component tree = QuadSubtreeRoot(CHUNK_LEVELS);
    tree.leaves <== leaf;
    subRoot === tree.root;
}
