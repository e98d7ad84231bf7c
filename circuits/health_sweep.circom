pragma circom 2.1.6;

include "widths.circom";
include "bits.circom";
include "merkle.circom";
include "account.circom";
include "margin.circom";

// HealthSweepChunk(CHUNK_HEIGHT, M): HEALTH SWEEP over the K = 2^CHUNK_HEIGHT
// consecutive accounts chunkIndex*K .. chunkIndex*K + K - 1 (the solvency
// chunk walk, without running totals: health is a per-account property).
//
// Proves, for hidden account leaves (isEmpty[k] ? 0 : AccountLeaf(...)):
//   * subRoot is the root of the complete height-CHUNK_HEIGHT subtree of those leaves;
//   * an empty slot has balance 0 and positions 0;
//   * flags = sum_k below[k] * 2^k where below[k] = 1 iff account k is under
//     maintenance margin at the public marks and fractions:
//       BPS_DENOM * (balance + sum_m s_m * P_m) < sum_m |s_m| * P_m * mmfBps[m].
//     Equity exactly at MMR gives below = 0. The flags are a function of the
//     leaves, so the prover cannot hide an account below MMR.
// Balances and positions are range-checked (signed) by Equity, the margin
// slack by SignedRangeCheck(MARGIN_BITS), prices with PRICE_BITS and the
// fractions with BPS_BITS.
//
// Not proved here (the verifier's job, see verifier/statements/health_sweep.py):
// that the chunks are 0..n-1, that their subroots rebuild the account root of
// the ledger position where the sweep sits, that prices are a real signed
// report and mmfBps the genesis fractions, and that every flagged account is
// liquidated by the next batch.
template HealthSweepChunk(CHUNK_HEIGHT, M) {
    assert(CHUNK_HEIGHT >= 0 && CHUNK_HEIGHT <= 8);
    assert(M >= 1 && M <= 16);
    var K = 1 << CHUNK_HEIGHT;

    // Public inputs, in this order (prover/statements/health_sweep.PUBLIC).
    signal input chunkIndex;
    signal input subRoot;
    signal input prices[M];
    signal input mmfBps[M];
    signal input flags;

    // Private: the accounts of the chunk.
    signal input isEmpty[K];
    signal input pubX[K];
    signal input pubY[K];
    signal input balance[K];
    signal input positions[K][M];
    signal input nonce[K];
    signal input blinding[K];

    // chunkIndex is not used by the logic; bind it so a proof cannot be
    // replayed under another index (the verifier places subRoot by it).
    signal chunkIndexSquared;
    chunkIndexSquared <== chunkIndex * chunkIndex;

    component priceRange[M];
    component mmfRange[M];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        mmfRange[m] = RangeCheck(BPS_BITS());
        mmfRange[m].in <== mmfBps[m];
    }

    component accountLeaf[K];
    component equity[K];
    component slack[K];
    signal leaf[K];
    var packed = 0;
    for (var k = 0; k < K; k++) {
        isEmpty[k] * (isEmpty[k] - 1) === 0;
        isEmpty[k] * balance[k] === 0;
        for (var m = 0; m < M; m++) { isEmpty[k] * positions[k][m] === 0; }

        accountLeaf[k] = AccountLeaf(M);
        accountLeaf[k].pubX <== pubX[k];
        accountLeaf[k].pubY <== pubY[k];
        accountLeaf[k].balance <== balance[k];
        accountLeaf[k].positions <== positions[k];
        accountLeaf[k].nonce <== nonce[k];
        accountLeaf[k].blinding <== blinding[k];
        leaf[k] <== (1 - isEmpty[k]) * accountLeaf[k].leaf;

        // Equity range-checks balance and positions; weightedNotional = BPS_DENOM * MMR.
        equity[k] = Equity(M);
        equity[k].balance <== balance[k];
        equity[k].positions <== positions[k];
        equity[k].prices <== prices;
        equity[k].bps <== mmfBps;

        // |slack| < 2^111 for in-range inputs (widths.circom), so the sign bit is exact.
        slack[k] = SignedRangeCheck(MARGIN_BITS());
        slack[k].in <== BPS_DENOM() * equity[k].equity - equity[k].weightedNotional;
        packed += slack[k].neg * (1 << k);
    }
    flags === packed;

    component tree = MerkleSubtreeRoot(CHUNK_HEIGHT);
    tree.leaves <== leaf;
    subRoot === tree.root;
}
