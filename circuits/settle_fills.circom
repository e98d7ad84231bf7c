pragma circom 2.1.6;

include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "widths.circom";
include "bits.circom";
include "quadtree.circom";
include "account_state.circom";
include "order_slots.circom";
include "margin.circom";

// SettleFills(ACC_LEVELS, SLOT_LEVELS, M, N, ORDER_TAG) — VALID FILL GROUP SETTLE.
//
// One group of up to N fills of a batch; a batch is a chain of such groups
// (the new root of one is the old root of the next). Proves that the account
// tree (quaternary, ACC_LEVELS levels) moved from oldAccRoot to newAccRoot by
// applying, in order, the active fills at the public marks, then crediting the
// group's fees to the fee account (index 0, the insurance fund). For every
// active fill slot, on each side (buy: side 0, sell: side 1, same market):
//   - the side's account is not account 0 (the fund never trades here);
//   - the account's order slot tree (root in its leaf, SLOT_LEVELS levels)
//     holds Poseidon(orderId, filledBefore, h) at slot orderId mod 4^SLOT_LEVELS,
//     where h = Poseidon(ORDER_TAG, account, orderId, market, side, size, limit,
//     expiry, flags, salt). The order was authorised (signature checked) when
//     order_ops placed it there, so a fill needs no signature;
//   - mark <= buy limit, mark >= sell limit, timestamp <= expiry,
//     1 <= quantity < 2^SIZE_BITS, filledBefore + quantity <= size; the slot
//     becomes Poseidon(orderId, filledBefore + quantity, h);
//   - funding is settled first: balance -= sum_m s_m (funding[m] - checkpoint[m]),
//     and the checkpoints become the public funding indices;
//   - the buyer pays q*mark + fee and gains q lots, the seller receives
//     q*mark - fee and loses q lots, fee = ceil(q*mark*feeBps[market] / 10000);
//   - reduce-only orders (flags = 1) only reduce |position| in the market, no flip;
//   - afterwards the account meets initial margin, OR (viaReduce) the fill
//     reduced |position| without a flip and did not lower equity - MMR, which
//     at one mark is exactly q*mark*mmfBps >= 10000*fee (equity moves by -fee,
//     10000*MMR by -q*mark*mmfBps).
// Inactive slots (active = 0, all after the active ones) change nothing.
// volume[m] is the total quantity traded in market m by the group.
// Preconditions (hold for trees only ever written by darkpool circuits): the
// fee account exists at index 0; every leaf's balance, positions and funding
// checkpoints were range-checked when written (what this statement writes is
// range-checked here).
template SettleFills(ACC_LEVELS, SLOT_LEVELS, M, N, ORDER_TAG) {
    assert(N >= 1 && M >= 1 && ACC_LEVELS >= 1 && SLOT_LEVELS >= 1);
    assert(2 * SLOT_LEVELS <= ORDER_ID_BITS());

    // ---- public inputs (declaration order = public signal order) ----
    signal input oldAccRoot;
    signal input newAccRoot;
    signal input batchId;
    signal input timestamp;
    signal input prices[M];
    signal input funding[M];
    signal input volume[M];
    signal input feeBps[M];
    signal input imfBps[M];
    signal input mmfBps[M];

    // ---- private: fill slots; [i][0] = buy side, [i][1] = sell side ----
    signal input active[N];
    signal input market[N];
    signal input quantity[N];
    signal input account[N][2];
    signal input orderId[N][2];
    signal input size[N][2];
    signal input limitPrice[N][2];
    signal input expiry[N][2];
    signal input reduceOnly[N][2];
    signal input salt[N][2];
    signal input filledBefore[N][2];
    signal input slotSiblings[N][2][SLOT_LEVELS][3];
    signal input pubX[N][2];
    signal input pubY[N][2];
    signal input balance[N][2];
    signal input positions[N][2][M];
    signal input checkpoints[N][2][M];
    signal input orderRoot[N][2];
    signal input nonce[N][2];
    signal input blindingOld[N][2];
    signal input blindingNew[N][2];
    signal input accSiblings[N][2][ACC_LEVELS][3];
    signal input viaReduce[N][2];

    // ---- private: the fee account (index 0) ----
    signal input feePubX;
    signal input feePubY;
    signal input feeBalance;
    signal input feePositions[M];
    signal input feeCheckpoints[M];
    signal input feeOrderRoot;
    signal input feeNonce;
    signal input feeBlindingOld;
    signal input feeBlindingNew;
    signal input feeSiblings[ACC_LEVELS][3];

    // batchId enters no other constraint: bind it so a proof cannot be replayed
    // under another batch id.
    signal batchIdSquare;
    batchIdSquare <== batchId * batchId;

    // Public parameters are range-checked once; every comparison below relies on it.
    component rTime = RangeCheck(TIME_BITS());
    rTime.in <== timestamp;
    component rPrice[M];
    component rFunding[M];
    component rFee[M];
    component rImf[M];
    component rMmf[M];
    for (var m = 0; m < M; m++) {
        rPrice[m] = RangeCheck(PRICE_BITS());
        rPrice[m].in <== prices[m];
        rFunding[m] = SignedRangeCheck(FUNDING_BITS());
        rFunding[m].in <== funding[m];
        rFee[m] = AssertLeq(BPS_BITS());
        rFee[m].a <== feeBps[m];
        rFee[m].b <== BPS_DENOM();
        rImf[m] = AssertLeq(BPS_BITS());
        rImf[m].a <== imfBps[m];
        rImf[m].b <== BPS_DENOM();
        rMmf[m] = AssertLeq(BPS_BITS());
        rMmf[m].a <== mmfBps[m];
        rMmf[m].b <== BPS_DENOM();
    }
    // Every leaf written here gets the current funding indices as checkpoints.
    component fundingHash = Poseidon(M);
    fundingHash.inputs <== funding;

    // Account roots threaded through the sides: index 2*i before slot i's buy
    // side, 2*i + 1 between its buy and sell side.
    signal accRoot[2 * N + 1];
    accRoot[0] <== oldAccRoot;

    component isActive[N];
    component rQty[N];
    component rQtyMin[N];
    component mkt[N];
    component markSel[N];
    component feeSel[N];
    component mmfSel[N];
    component feeDiv[N];
    component side[N][2];
    signal qty[N];
    signal qtyByMarket[N][M];
    signal notional[N];
    signal feeNumerator[N];
    var feeTotal = 0;
    var vol[M];
    for (var m = 0; m < M; m++) { vol[m] = 0; }

    for (var i = 0; i < N; i++) {
        isActive[i] = IsBool();
        isActive[i].in <== active[i];
        if (i > 0) {
            active[i] * (1 - active[i - 1]) === 0;
        }
        rQty[i] = RangeCheck(SIZE_BITS());
        rQty[i].in <== quantity[i];
        rQtyMin[i] = RangeCheck(SIZE_BITS());
        rQtyMin[i].in <== active[i] * (quantity[i] - 1);
        qty[i] <== active[i] * quantity[i];

        mkt[i] = OneHot(M);
        mkt[i].sel <== market[i];
        markSel[i] = Select(M);
        markSel[i].values <== prices;
        markSel[i].onehot <== mkt[i].out;
        feeSel[i] = Select(M);
        feeSel[i].values <== feeBps;
        feeSel[i].onehot <== mkt[i].out;
        mmfSel[i] = Select(M);
        mmfSel[i].values <== mmfBps;
        mmfSel[i].onehot <== mkt[i].out;
        for (var m = 0; m < M; m++) {
            qtyByMarket[i][m] <== qty[i] * mkt[i].out[m];
            vol[m] += qtyByMarket[i][m];
        }

        // fee = ceil(q * mark * feeBps / BPS_DENOM) per side, rounded up so that
        // splitting a trade into small fills never dodges the fee.
        notional[i] <== qty[i] * markSel[i].out;
        feeNumerator[i] <== notional[i] * feeSel[i].out;
        feeDiv[i] = DivRemConst(FEE_BITS(), BPS_DENOM());
        feeDiv[i].n <== feeNumerator[i] + BPS_DENOM() - 1;
        feeTotal += 2 * feeDiv[i].q;

        for (var s = 0; s < 2; s++) {
            side[i][s] = SettleSide(ACC_LEVELS, SLOT_LEVELS, M, s, ORDER_TAG);
            side[i][s].active <== active[i];
            side[i][s].market <== market[i];
            side[i][s].marketOnehot <== mkt[i].out;
            side[i][s].mark <== markSel[i].out;
            side[i][s].mmfSel <== mmfSel[i].out;
            side[i][s].quantity <== quantity[i];
            side[i][s].qtyByMarket <== qtyByMarket[i];
            side[i][s].notional <== notional[i];
            side[i][s].fee <== feeDiv[i].q;
            side[i][s].timestamp <== timestamp;
            side[i][s].prices <== prices;
            side[i][s].funding <== funding;
            side[i][s].fundingHash <== fundingHash.out;
            side[i][s].imfBps <== imfBps;
            side[i][s].accRootIn <== accRoot[2 * i + s];

            side[i][s].account <== account[i][s];
            side[i][s].orderId <== orderId[i][s];
            side[i][s].size <== size[i][s];
            side[i][s].limitPrice <== limitPrice[i][s];
            side[i][s].expiry <== expiry[i][s];
            side[i][s].reduceOnly <== reduceOnly[i][s];
            side[i][s].salt <== salt[i][s];
            side[i][s].filledBefore <== filledBefore[i][s];
            side[i][s].slotSiblings <== slotSiblings[i][s];
            side[i][s].pubX <== pubX[i][s];
            side[i][s].pubY <== pubY[i][s];
            side[i][s].balance <== balance[i][s];
            side[i][s].positions <== positions[i][s];
            side[i][s].checkpoints <== checkpoints[i][s];
            side[i][s].orderRoot <== orderRoot[i][s];
            side[i][s].nonce <== nonce[i][s];
            side[i][s].blindingOld <== blindingOld[i][s];
            side[i][s].blindingNew <== blindingNew[i][s];
            side[i][s].accSiblings <== accSiblings[i][s];
            side[i][s].viaReduce <== viaReduce[i][s];

            accRoot[2 * i + s + 1] <== side[i][s].accRootOut;
        }
    }

    for (var m = 0; m < M; m++) {
        volume[m] === vol[m];
    }

    // ---- fee account: one update per group, at index 0 (all position bits 0);
    // its funding is settled like any touched account's ----
    component feePay = FundingPayment(M);
    feePay.positions <== feePositions;
    feePay.checkpoints <== feeCheckpoints;
    feePay.funding <== funding;
    signal feeNewBalance;
    feeNewBalance <== feeBalance - feePay.payment + feeTotal;
    component feeNewBal = SignedRangeCheck(BALANCE_BITS());
    feeNewBal.in <== feeNewBalance;

    component feePosHash = Poseidon(M);
    feePosHash.inputs <== feePositions;
    component feeCkHash = Poseidon(M);
    feeCkHash.inputs <== feeCheckpoints;
    component feeOldLeaf = AccountStateLeaf();
    feeOldLeaf.pubX <== feePubX;
    feeOldLeaf.pubY <== feePubY;
    feeOldLeaf.balance <== feeBalance;
    feeOldLeaf.positionsHash <== feePosHash.out;
    feeOldLeaf.checkpointsHash <== feeCkHash.out;
    feeOldLeaf.orderRoot <== feeOrderRoot;
    feeOldLeaf.nonce <== feeNonce;
    feeOldLeaf.blinding <== feeBlindingOld;
    component feeNewLeaf = AccountStateLeaf();
    feeNewLeaf.pubX <== feePubX;
    feeNewLeaf.pubY <== feePubY;
    feeNewLeaf.balance <== feeNewBalance;
    feeNewLeaf.positionsHash <== feePosHash.out;
    feeNewLeaf.checkpointsHash <== fundingHash.out;
    feeNewLeaf.orderRoot <== feeOrderRoot;
    feeNewLeaf.nonce <== feeNonce;
    feeNewLeaf.blinding <== feeBlindingNew;

    component feeBefore = QuadRootFromPath(ACC_LEVELS);
    component feeAfter = QuadRootFromPath(ACC_LEVELS);
    feeBefore.leaf <== feeOldLeaf.leaf;
    feeAfter.leaf <== feeNewLeaf.leaf;
    for (var b = 0; b < 2 * ACC_LEVELS; b++) {
        feeBefore.bits[b] <== 0;
        feeAfter.bits[b] <== 0;
    }
    feeBefore.siblings <== feeSiblings;
    feeAfter.siblings <== feeSiblings;
    feeBefore.root === accRoot[2 * N];
    newAccRoot === feeAfter.root;
}

// SettleSide(ACC_LEVELS, SLOT_LEVELS, M, SIDE, ORDER_TAG): one side (SIDE = 0
// buy, 1 sell) of one fill slot; see SettleFills for the claim. When
// active = 0 the root passes through unchanged and nothing else is required.
// Preconditions (established by SettleFills): active boolean; market < M and
// marketOnehot its one-hot vector; mark, prices < 2^PRICE_BITS; imfBps,
// mmfSel <= BPS_DENOM; funding signed FUNDING_BITS; fundingHash =
// Poseidon(funding); timestamp < 2^TIME_BITS; quantity < 2^SIZE_BITS and >= 1
// when active; qtyByMarket = active * quantity * marketOnehot; notional =
// active * quantity * mark; fee < 2^FEE_BITS.
template SettleSide(ACC_LEVELS, SLOT_LEVELS, M, SIDE, ORDER_TAG) {
    signal input active;
    signal input market;
    signal input marketOnehot[M];
    signal input mark;
    signal input mmfSel;
    signal input quantity;
    signal input qtyByMarket[M];
    signal input notional;
    signal input fee;
    signal input timestamp;
    signal input prices[M];
    signal input funding[M];
    signal input fundingHash;
    signal input imfBps[M];
    signal input accRootIn;

    signal input account;
    signal input orderId;
    signal input size;
    signal input limitPrice;
    signal input expiry;
    signal input reduceOnly;
    signal input salt;
    signal input filledBefore;
    signal input slotSiblings[SLOT_LEVELS][3];
    signal input pubX;
    signal input pubY;
    signal input balance;
    signal input positions[M];
    signal input checkpoints[M];
    signal input orderRoot;
    signal input nonce;
    signal input blindingOld;
    signal input blindingNew;
    signal input accSiblings[ACC_LEVELS][3];
    signal input viaReduce;

    signal output accRootOut;

    // +1 for the buyer, -1 for the seller (compile-time constant).
    var SIGN = 1 - 2 * SIDE;

    // ---- the insurance fund (account 0) is never a fill side ----
    component fund = IsZero();
    fund.in <== account;
    active * fund.out === 0;
    component accBits = Num2Bits(2 * ACC_LEVELS);
    accBits.in <== account;

    // ---- order terms ----
    component idBits = Num2Bits(ORDER_ID_BITS());
    idBits.in <== orderId;
    component rSize = RangeCheck(SIZE_BITS());
    rSize.in <== size;
    component rLimit = RangeCheck(PRICE_BITS());
    rLimit.in <== limitPrice;
    component rExpiry = RangeCheck(TIME_BITS());
    rExpiry.in <== expiry;
    component rFilled = RangeCheck(SIZE_BITS());
    rFilled.in <== filledBefore;
    component roBool = IsBool();
    roBool.in <== reduceOnly;
    component viaBool = IsBool();
    viaBool.in <== viaReduce;

    component limitOk = RangeCheck(PRICE_BITS());
    limitOk.in <== active * SIGN * (limitPrice - mark);
    component notExpired = RangeCheck(TIME_BITS());
    notExpired.in <== active * (expiry - timestamp);
    signal filledAfter;
    filledAfter <== filledBefore + quantity;
    component withinSize = RangeCheck(SIZE_BITS());
    withinSize.in <== active * (size - filledAfter);

    component commitment = OrderHash(ORDER_TAG);
    commitment.account <== account;
    commitment.orderId <== orderId;
    commitment.market <== market;
    commitment.side <== SIDE;
    commitment.size <== size;
    commitment.limitPrice <== limitPrice;
    commitment.expiry <== expiry;
    commitment.flags <== reduceOnly;
    commitment.salt <== salt;

    // ---- the order's slot: (orderId, filledBefore, h) -> (orderId, filledAfter, h) ----
    component oldSlot = SlotLeaf();
    oldSlot.orderId <== orderId;
    oldSlot.filled <== filledBefore;
    oldSlot.h <== commitment.h;
    component newSlot = SlotLeaf();
    newSlot.orderId <== orderId;
    newSlot.filled <== filledAfter;
    newSlot.h <== commitment.h;
    component slotUpdate = ConditionalQuadUpdate(SLOT_LEVELS);
    slotUpdate.enabled <== active;
    slotUpdate.oldRoot <== orderRoot;
    slotUpdate.oldLeaf <== oldSlot.leaf;
    slotUpdate.newLeaf <== newSlot.leaf;
    for (var b = 0; b < 2 * SLOT_LEVELS; b++) {
        slotUpdate.bits[b] <== idBits.out[b];
    }
    slotUpdate.siblings <== slotSiblings;

    // ---- funding first, then the trade ----
    component pay = FundingPayment(M);
    pay.positions <== positions;
    pay.checkpoints <== checkpoints;
    pay.funding <== funding;
    signal newPositions[M];
    for (var m = 0; m < M; m++) {
        newPositions[m] <== positions[m] + SIGN * qtyByMarket[m];
    }
    signal newBalance;
    newBalance <== balance - pay.payment - SIGN * notional - fee;

    component oldPosHash = Poseidon(M);
    oldPosHash.inputs <== positions;
    component oldCkHash = Poseidon(M);
    oldCkHash.inputs <== checkpoints;
    component newPosHash = Poseidon(M);
    newPosHash.inputs <== newPositions;

    component oldLeaf = AccountStateLeaf();
    oldLeaf.pubX <== pubX;
    oldLeaf.pubY <== pubY;
    oldLeaf.balance <== balance;
    oldLeaf.positionsHash <== oldPosHash.out;
    oldLeaf.checkpointsHash <== oldCkHash.out;
    oldLeaf.orderRoot <== orderRoot;
    oldLeaf.nonce <== nonce;
    oldLeaf.blinding <== blindingOld;
    component newLeaf = AccountStateLeaf();
    newLeaf.pubX <== pubX;
    newLeaf.pubY <== pubY;
    newLeaf.balance <== newBalance;
    newLeaf.positionsHash <== newPosHash.out;
    newLeaf.checkpointsHash <== fundingHash;
    newLeaf.orderRoot <== slotUpdate.newRoot;
    newLeaf.nonce <== nonce;
    newLeaf.blinding <== blindingNew;

    component accUpdate = ConditionalQuadUpdate(ACC_LEVELS);
    accUpdate.enabled <== active;
    accUpdate.oldRoot <== accRootIn;
    accUpdate.oldLeaf <== oldLeaf.leaf;
    accUpdate.newLeaf <== newLeaf.leaf;
    accUpdate.bits <== accBits.out;
    accUpdate.siblings <== accSiblings;
    accRootOut <== accUpdate.newRoot;

    // ---- risk: the new balance and positions are signed-range-checked inside
    // Equity, so nothing written can wrap ----
    component e = Equity(M);
    e.balance <== newBalance;
    e.positions <== newPositions;
    e.prices <== prices;
    e.bps <== imfBps;

    // Initial margin unless the viaReduce path is taken.
    signal useImr;
    useImr <== active * (1 - viaReduce);
    signal imrSlack;
    imrSlack <== useImr * (BPS_DENOM() * e.equity - e.weightedNotional);
    component imrOk = RangeCheck(MARGIN_BITS());
    imrOk.in <== imrSlack;

    // Reducing (reduce-only orders and the viaReduce path): the position in
    // the traded market ends on the side it started, SIGN * newPosition <= 0;
    // with quantity >= 1 this means |position| shrank and did not flip.
    signal roVia;
    roVia <== reduceOnly * viaReduce;
    signal needReduce;
    needReduce <== active * (reduceOnly + viaReduce - roVia);
    component newSel = Select(M);
    newSel.values <== newPositions;
    newSel.onehot <== marketOnehot;
    component reduces = RangeCheck(POSITION_BITS());
    reduces.in <== needReduce * (-SIGN * newSel.out);

    // viaReduce: equity - MMR not lowered, i.e. q*mark*mmf >= BPS_DENOM * fee.
    signal useReduce;
    useReduce <== active * viaReduce;
    signal mmrRelief;
    mmrRelief <== notional * mmfSel;
    signal reduceSlack;
    reduceSlack <== useReduce * (mmrRelief - BPS_DENOM() * fee);
    component reduceOk = RangeCheck(MARGIN_BITS());
    reduceOk.in <== reduceSlack;
}
