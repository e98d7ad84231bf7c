pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "widths.circom";
include "bits.circom";
include "quadtree.circom";
include "account_state.circom";
include "account_settle.circom";
include "signature.circom";
include "margin.circom";

// AccountUpdate(ACC_LEVELS, M, WITHDRAW_TAG, EMPTY_ORDER_ROOT) — VALID ACCOUNT
// OPERATION on the recycling-order account state (ACCOUNT OP's guarantees on
// the 8-input leaf and the quaternary account tree of ACC_LEVELS levels).
//
// Proves that the account tree moved from oldAccRoot to newAccRoot by exactly
// one public operation on the account at public `index` owned by public key
// (pubX, pubY), at the public funding indices funding[M]:
//   op = 0 OPEN:     the slot was empty (leaf 0); the new leaf is (pub,
//                    balance = amount, positions 0, checkpoints = funding,
//                    orderRoot = EMPTY_ORDER_ROOT (every order slot empty),
//                    nonce 0, blindingNew); pub is on Baby Jubjub and its x is
//                    not 0 (neither the identity nor the order-2 point (0, -1)).
//   op = 1 DEPOSIT:  the slot holds (pub, balance, positions, checkpoints,
//                    orderRoot, nonce, blindingOld); funding is settled first,
//                    settled = balance - sum_m s_m (funding_m - checkpoint_m);
//                    the new leaf is (pub, settled + amount, positions,
//                    checkpoints = funding, orderRoot, nonce, blindingNew);
//                    amount >= 1.
//   op = 2 WITHDRAW: as deposit but settled - amount and nonce + 1; the owner
//                    signed Poseidon(WITHDRAW_TAG, index, amount, nonce) (old
//                    nonce, so each signature is usable once); the NEW state
//                    meets initial margin at the public prices / imfBps
//                    (after funding); amount >= 1.
// Always: amount < 2^AMOUNT_BITS; prices < 2^PRICE_BITS; imfBps <= BPS_DENOM;
// funding signed FUNDING_BITS; the new balance and the positions are
// signed-range-checked (BALANCE_BITS / POSITION_BITS, inside MarginCheck's
// Equity); the nonces fit NONCE_BITS; index < 4^ACC_LEVELS. For OPEN the
// private old-leaf fields are multiplied out, so they cannot influence the
// result (an honest prover passes zeros). The order slots are untouched
// (orders are placed / cancelled by ORDER OPS).
// Preconditions: the old leaf was written by darkpool circuits (checkpoints
// signed FUNDING_BITS); WITHDRAW_TAG is verifier.params.domain_tag("withdraw",
// exchange); EMPTY_ORDER_ROOT = verifier.account_state.empty_order_root(slot_levels).
template AccountUpdate(ACC_LEVELS, M, WITHDRAW_TAG, EMPTY_ORDER_ROOT) {
    assert(ACC_LEVELS >= 1 && M >= 1);

    // ---- public inputs (declaration order = public signal order) ----
    signal input oldAccRoot;
    signal input newAccRoot;
    signal input op;
    signal input index;
    signal input amount;
    signal input pubX;
    signal input pubY;
    signal input prices[M];
    signal input imfBps[M];
    signal input funding[M];

    // ---- private ----
    signal input balance;
    signal input positions[M];
    signal input checkpoints[M];
    signal input orderRoot;
    signal input nonce;
    signal input blindingOld;
    signal input blindingNew;
    signal input accSiblings[ACC_LEVELS][3];
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
    component rFunding[M];
    for (var m = 0; m < M; m++) {
        rPrice[m] = RangeCheck(PRICE_BITS());
        rPrice[m].in <== prices[m];
        rImf[m] = RangeCheck(BPS_BITS());
        rImf[m].in <== imfBps[m];
        imfMax[m] = AssertLeqChecked(BPS_BITS());
        imfMax[m].a <== imfBps[m];
        imfMax[m].b <== BPS_DENOM();
        rFunding[m] = SignedRangeCheck(FUNDING_BITS());
        rFunding[m].in <== funding[m];
    }
    component fundingHash = Poseidon(M);
    fundingHash.inputs <== funding;

    // ---- OPEN: the public key is a curve point other than (0, 1) / (0, -1) ----
    signal px2 <== pubX * pubX;
    signal py2 <== pubY * pubY;
    signal pxy2 <== px2 * py2;
    isOpen * (168700 * px2 + py2 - 1 - 168696 * pxy2) === 0;
    component pubXZero = IsZero();
    pubXZero.in <== pubX;
    isOpen * pubXZero.out === 0;

    // ---- old state (forced to the empty leaf 0 for OPEN), settled to funding ----
    signal keptBalance <== keep * balance;
    signal keptPositions[M];
    for (var m = 0; m < M; m++) { keptPositions[m] <== keep * positions[m]; }
    signal keptNonce <== keep * nonce;
    signal keptOrderRoot <== keep * orderRoot;

    // With kept positions 0 (OPEN) the payment is 0 whatever the checkpoints.
    component old = SettledAccount(M);
    old.pubX <== pubX;
    old.pubY <== pubY;
    old.balance <== keptBalance;
    old.positions <== keptPositions;
    old.checkpoints <== checkpoints;
    old.orderRoot <== orderRoot;
    old.nonce <== keptNonce;
    old.blinding <== blindingOld;
    old.funding <== funding;
    signal oldLeaf <== keep * old.leaf;

    // ---- new state ----
    // OPEN / DEPOSIT add amount, WITHDRAW subtracts it (the one-hot sums to 1).
    signal withdrawn <== isWithdraw * amount;
    signal newBalance <== old.settledBalance + amount - 2 * withdrawn;
    signal newNonce <== keptNonce + isWithdraw;
    component rNonce = RangeCheck(NONCE_BITS());
    rNonce.in <== keptNonce;
    component rNewNonce = RangeCheck(NONCE_BITS());
    rNewNonce.in <== newNonce;
    // OPEN: every order slot empty; else the account's slots carry over.
    signal newOrderRoot <== keptOrderRoot + isOpen * EMPTY_ORDER_ROOT;

    // Range-checks newBalance (signed BALANCE_BITS) and keptPositions (signed
    // POSITION_BITS) for every op; the margin inequality binds only for WITHDRAW.
    component margin = MarginCheck(M);
    margin.enabled <== isWithdraw;
    margin.balance <== newBalance;
    margin.positions <== keptPositions;
    margin.prices <== prices;
    margin.bps <== imfBps;

    component newLeaf = AccountStateLeaf();
    newLeaf.pubX <== pubX;
    newLeaf.pubY <== pubY;
    newLeaf.balance <== newBalance;
    newLeaf.positionsHash <== old.positionsHash;
    newLeaf.checkpointsHash <== fundingHash.out;
    newLeaf.orderRoot <== newOrderRoot;
    newLeaf.nonce <== newNonce;
    newLeaf.blinding <== blindingNew;

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

    // ---- tree update at index (Num2Bits range-checks index < 4^ACC_LEVELS) ----
    component indexBits = Num2Bits(2 * ACC_LEVELS);
    indexBits.in <== index;
    component before = QuadRootFromPath(ACC_LEVELS);
    before.leaf <== oldLeaf;
    before.bits <== indexBits.out;
    before.siblings <== accSiblings;
    oldAccRoot === before.root;
    component after = QuadRootFromPath(ACC_LEVELS);
    after.leaf <== newLeaf.leaf;
    after.bits <== indexBits.out;
    after.siblings <== accSiblings;
    newAccRoot === after.root;
}
