pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";
include "widths.circom";
include "bits.circom";
include "account_settle.circom";
include "quad_subtree.circom";
include "margin.circom";

// HealthSweepChunk(CHUNK_LEVELS, M): HEALTH SWEEP on the account-state
// leaf (circuits/lib/account_state.circom) and the quaternary account tree,
// over the K = 4^CHUNK_LEVELS consecutive accounts chunkIndex*K .. chunkIndex*K + K - 1.
//
// Proves, for hidden account leaves (isEmpty[k] ? 0 : AccountStateLeaf(...)):
//   * subRoot is the root of the complete CHUNK_LEVELS-level quaternary
//     subtree of those leaves;
//   * an empty slot has balance 0 and positions 0;
//   * every account's pending funding is paid first: the settled balance is
//     balance - sum_m s_m (funding[m] - checkpoint[m]) (signed BALANCE_BITS);
//     the leaf itself is not rewritten by a sweep;
//   * flags = sum_k below[k] * 2^k where below[k] = 1 iff account k is under
//     maintenance margin at the public marks and fractions, after funding:
//       BPS_DENOM * (settled balance + sum_m s_m * P_m) < sum_m |s_m| * P_m * mmfBps[m].
//     Equity exactly at MMR gives below = 0. The flags are a function of the
//     leaves, so the prover cannot hide an account below MMR.
// Positions and settled balances are range-checked (signed) by Equity, the
// margin slack by SignedRangeCheck(MARGIN_BITS), prices with PRICE_BITS,
// funding with FUNDING_BITS (signed) and the fractions with BPS_BITS.
//
// Not proved here (the verifier's job, verifier/statements/health_sweep.py):
// that the chunks are 0..n-1, that their subroots rebuild the account root of
// the ledger position where the sweep sits, that prices are a real signed
// report, funding the current funding indices and mmfBps the genesis
// fractions, and that every flagged account is liquidated by the next batch.
// Preconditions (hold for trees only written by darkpool circuits): stored
// positions and checkpoints were range-checked when written.
template HealthSweepChunk(CHUNK_LEVELS, M) {
    assert(CHUNK_LEVELS >= 1 && CHUNK_LEVELS <= 4);
    assert(M >= 1 && M <= 16);
    var K = 1 << (2 * CHUNK_LEVELS);

    // Public inputs, in this order (verifier.statements.health_sweep.PUBLIC_NAMES).
    signal input chunkIndex;
    signal input subRoot;
    signal input prices[M];
    signal input funding[M];
    signal input mmfBps[M];
    signal input flags;

    // Private: the accounts of the chunk.
    signal input isEmpty[K];
    signal input pubX[K];
    signal input pubY[K];
    signal input balance[K];
    signal input positions[K][M];
    signal input checkpoints[K][M];
    signal input orderRoot[K];
    signal input nonce[K];
    signal input blinding[K];

    // chunkIndex is not used by the logic; bind it so a proof cannot be
    // replayed under another index (the verifier places subRoot by it).
    signal chunkIndexSquared;
    chunkIndexSquared <== chunkIndex * chunkIndex;

    component priceRange[M];
    component fundingRange[M];
    component mmfRange[M];
    for (var m = 0; m < M; m++) {
        priceRange[m] = RangeCheck(PRICE_BITS());
        priceRange[m].in <== prices[m];
        fundingRange[m] = SignedRangeCheck(FUNDING_BITS());
        fundingRange[m].in <== funding[m];
        mmfRange[m] = RangeCheck(BPS_BITS());
        mmfRange[m].in <== mmfBps[m];
    }

    component opened[K];
    component equity[K];
    component slack[K];
    signal leaf[K];
    var packed = 0;
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

        // Equity range-checks the settled balance and the positions;
        // weightedNotional = BPS_DENOM * MMR.
        equity[k] = Equity(M);
        equity[k].balance <== opened[k].settledBalance;
        equity[k].positions <== positions[k];
        equity[k].prices <== prices;
        equity[k].bps <== mmfBps;

        // |slack| < 2^111 for in-range inputs (widths.circom), so the sign bit is exact.
        slack[k] = SignedRangeCheck(MARGIN_BITS());
        slack[k].in <== BPS_DENOM() * equity[k].equity - equity[k].weightedNotional;
        packed += slack[k].neg * (1 << k);
    }
    flags === packed;

    component tree = QuadSubtreeRoot(CHUNK_LEVELS);
    tree.leaves <== leaf;
    subRoot === tree.root;
}
