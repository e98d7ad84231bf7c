pragma circom 2.1.6;

// Bit widths, named once. verifier/params.py mirrors these and
// tests/circuits/test_params.py checks the two agree.
//
// Derived bounds (why nothing wraps mod r ~ 2^253):
//   notional   |s| * P            < 2^(47 + 40)       = 2^87
//   equity     balance + sum s*P  < 2^95 + 16 * 2^87  < 2^96
//   margin     10000 * equity     < 2^110;  sum |s|*P*bps < 16 * 2^87 * 2^14 = 2^105
// so MARGIN_BITS = 128 leaves a wide gap below r for every difference we range-check.

function SIZE_BITS() { return 40; }       // order size and fill quantity, in lots
function PRICE_BITS() { return 40; }      // limit and mark prices, in ticks per lot
function POSITION_BITS() { return 48; }   // signed position per market, in lots
function BALANCE_BITS() { return 96; }    // signed balance, in quote units
function AMOUNT_BITS() { return 80; }     // deposit / withdraw amount, unsigned
function BPS_BITS() { return 14; }        // fee and margin fractions, basis points (<= 10000)
function TIME_BITS() { return 48; }       // unix seconds (expiry, batch timestamp)
function NONCE_BITS() { return 32; }      // account nonce
function MARGIN_BITS() { return 128; }    // non-negative margin slack
function FEE_BITS() { return 96; }        // fee per fill side, quote units
function ORDER_ID_BITS() { return 32; }  // per-account order id (its low bits pick the order slot)
function FUNDING_BITS() { return 64; }   // signed cumulative funding index, quote units per lot
function BPS_DENOM() { return 10000; }
