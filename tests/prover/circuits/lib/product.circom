pragma circom 2.1.0;

// out = a * b: one multiplication constraint (test gadget for prover/toolchain).
template Product() {
    signal input a;
    signal input b;
    signal output out;
    out <== a * b;
}
