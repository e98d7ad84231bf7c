pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";
include "widths.circom";
include "bits.circom";
include "merkle.circom";
include "account.circom";
include "signature.circom";
include "margin.circom";

// AccountOp(ACC_DEPTH, M, WITHDRAW_TAG) — VALID ACCOUNT OPERATION.
//
// Proves that the account tree moved from oldRoot to newRoot by exactly one
// public operation on the account at public `index` owned by public key
// (pubX, pubY):
//   op = 0 OPEN:     the slot was empty (leaf 0); the new leaf is
//                    (pub, balance = amount, positions = 0, nonce = 0, blindingNew);
//                    pub is on Baby Jubjub and its x is not 0 (so neither the
//                    identity nor the order-2 point (0, -1)).
//   op = 1 DEPOSIT:  the slot holds (pub, balance, positions, nonce, blindingOld);
//                    the new leaf is (pub, balance + amount, positions, nonce, blindingNew);
//                    amount >= 1.
//   op = 2 WITHDRAW: as deposit but balance - amount and nonce + 1; the owner
//                    signed Poseidon(WITHDRAW_TAG, index, amount, nonce) (old nonce,
//                    so each signature is usable once); the NEW state meets
//                    initial margin at the public prices / imfBps; amount >= 1.
// Always: amount < 2^AMOUNT_BITS; prices < 2^PRICE_BITS; imfBps <= BPS_DENOM;
// the new balance / positions are signed-range-checked (BALANCE_BITS /
// POSITION_BITS, inside MarginCheck's Equity) and the nonces fit NONCE_BITS.
// For OPEN the private old-leaf fields are multiplied out, so they cannot
// influence the result (an honest prover passes zeros).
// Preconditions: none on the private inputs; WITHDRAW_TAG is the exchange's
// withdraw domain tag (verifier.params.domain_tag("withdraw", exchange)).
template AccountOp(ACC_DEPTH, M, WITHDRAW_TAG) {
    assert(ACC_DEPTH >= 1 && M >= 1);

    // ---- public inputs (declaration order = public signal order) ----
    signal input oldRoot;
    signal input newRoot;
    signal input op;
    signal input index;
    signal input amount;
    signal input pubX;
    signal input pubY;
    signal input prices[M];
    signal input imfBps[M];

    // ---- private ----
    signal input balance;
    signal input positions[M];
    signal input nonce;
    signal input blindingOld;
    signal input blindingNew;
    signal input siblings[ACC_DEPTH];
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;

    // ---- op selector ----
    component kind = OneHot(3);
    kind.sel <== op;
    signal isOpen <== kind.out[0];
    signal isWithdraw <== kind.out[2];
    // keep = 1 for deposit / withdraw: the old leaf's fields carry over.
    signal keep <== 1 - isOpen;

    // ---- public parameters ----
    component rAmount = RangeCheck(AMOUNT_BITS());
    rAmount.in <== amount;
    // deposit / withdraw move at least one unit (amount - 1 would wrap for 0).
    component rAmountMin = RangeCheck(AMOUNT_BITS());
    rAmountMin.in <== keep * (amount - 1);

    component rPrice[M];
    component rImf[M];
    component imfMax[M];
    for (var m = 0; m < M; m++) {
        rPrice[m] = RangeCheck(PRICE_BITS());
        rPrice[m].in <== prices[m];
        rImf[m] = RangeCheck(BPS_BITS());
        rImf[m].in <== imfBps[m];
        imfMax[m] = AssertLeqChecked(BPS_BITS());
        imfMax[m].a <== imfBps[m];
        imfMax[m].b <== BPS_DENOM();
    }

    // ---- OPEN: the public key is a curve point other than (0, 1) / (0, -1) ----
    signal px2 <== pubX * pubX;
    signal py2 <== pubY * pubY;
    signal pxy2 <== px2 * py2;
    isOpen * (168700 * px2 + py2 - 1 - 168696 * pxy2) === 0;
    component pubXZero = IsZero();
    pubXZero.in <== pubX;
    isOpen * pubXZero.out === 0;

    // ---- old state: forced to the empty leaf 0 for OPEN ----
    component oldHash = AccountLeaf(M);
    oldHash.pubX <== pubX;
    oldHash.pubY <== pubY;
    oldHash.balance <== balance;
    oldHash.positions <== positions;
    oldHash.nonce <== nonce;
    oldHash.blinding <== blindingOld;
    signal oldLeaf <== keep * oldHash.leaf;

    signal keptBalance <== keep * balance;
    signal keptPositions[M];
    for (var m = 0; m < M; m++) { keptPositions[m] <== keep * positions[m]; }
    signal keptNonce <== keep * nonce;

    // ---- new state ----
    // OPEN / DEPOSIT add amount, WITHDRAW subtracts it (the one-hot sums to 1).
    signal withdrawn <== isWithdraw * amount;
    signal newBalance <== keptBalance + amount - 2 * withdrawn;
    signal newNonce <== keptNonce + isWithdraw;
    component rNonce = RangeCheck(NONCE_BITS());
    rNonce.in <== keptNonce;
    component rNewNonce = RangeCheck(NONCE_BITS());
    rNewNonce.in <== newNonce;

    // Range-checks newBalance (signed BALANCE_BITS) and keptPositions (signed
    // POSITION_BITS) for every op; the margin inequality binds only for WITHDRAW.
    component margin = MarginCheck(M);
    margin.enabled <== isWithdraw;
    margin.balance <== newBalance;
    margin.positions <== keptPositions;
    margin.prices <== prices;
    margin.bps <== imfBps;

    component newHash = AccountLeaf(M);
    newHash.pubX <== pubX;
    newHash.pubY <== pubY;
    newHash.balance <== newBalance;
    newHash.positions <== keptPositions;
    newHash.nonce <== newNonce;
    newHash.blinding <== blindingNew;

    // ---- WITHDRAW: the owner's signature over (tag, index, amount, old nonce) ----
    component msg = Poseidon(4);
    msg.inputs[0] <== WITHDRAW_TAG;
    msg.inputs[1] <== index;
    msg.inputs[2] <== amount;
    msg.inputs[3] <== keptNonce;
    component sig = SignatureCheck();
    sig.enabled <== isWithdraw;
    sig.Ax <== pubX;
    sig.Ay <== pubY;
    sig.R8x <== sigR8x;
    sig.R8y <== sigR8y;
    sig.S <== sigS;
    sig.msg <== msg.out;

    // ---- tree update (MerkleUpdate also range-checks index < 2^ACC_DEPTH) ----
    component upd = MerkleUpdate(ACC_DEPTH);
    upd.oldRoot <== oldRoot;
    upd.oldLeaf <== oldLeaf;
    upd.newLeaf <== newHash.leaf;
    upd.index <== index;
    upd.siblings <== siblings;
    newRoot === upd.newRoot;
}
