// INSECURE development powers of tau from a KNOWN tau, written directly in
// prepared (phase-2 ready) form: node dev_ptau.cjs POWER SEED_HEX OUT.ptau
//
// snarkjs' `powersoftau prepare phase2` turns the tau powers into Lagrange-basis
// points with a point FFT (one scalar multiplication per butterfly): ~25 min
// for 2^16 on 2 cores. Knowing tau, the same points are [s_j]G for scalars
// s_j = IFFT(tau^0, tau^1, ...)_j computed in the scalar field (the identical
// linear map, done on numbers), then one scalar multiplication per point.
// Output layout is snarkjs' (sections 1-7 and 12-15, see snarkjs
// src/powersoftau_new.js and src/powersoftau_preparephase2.js, including the
// zero last point of tauG1's level power+1). tau, alpha and beta derive from
// SEED_HEX by SHA-256 and are PUBLIC: anyone can forge proofs. For tests and
// development only. The per-point multiplications run in one helper process
// per core (`--helper`, fed chunks of scalars over IPC), fixed-base (a table
// of multiples of the generator, `fixedBase`); dev_zkey.cjs uses the same pool.
"use strict";

const path = require("path");
const os = require("os");
const crypto = require("crypto");
const { fork } = require("child_process");
const IS_HELPER = process.argv[2] === "--helper";

const snarkjsDir = path.resolve(path.dirname(require.resolve("snarkjs")), "..");
const ff = require(require.resolve("ffjavascript", { paths: [snarkjsDir] }));
const binFileUtils = require(require.resolve("@iden3/binfileutils", { paths: [snarkjsDir] }));

function scalarFromSeed(Fr, seed, label) {
    const digest = crypto.createHash("sha256").update(seed + ":" + label).digest();
    return Fr.e(ff.Scalar.fromString(digest.toString("hex"), 16));
}

function progress(text) {
    process.stderr.write(`${text}\n`);
}

// Buffer of n scalars start * inc^i (Montgomery form, as ffjavascript stores them).
async function geometric(Fr, n, start, inc) {
    const buff = new ff.BigBuffer(n * Fr.n8);
    let acc = start;
    for (let i = 0; i < n; i++) {
        buff.set(acc, i * Fr.n8);
        acc = Fr.mul(acc, inc);
    }
    return buff;
}

// Make room for `bytes` more in the curve's wasm memory (growing it refreshes the views).
function reserve(tm, bytes) {
    const need = tm.u32[0] + bytes + 64;
    if (need > tm.u8.length) {
        tm.memory.grow(Math.ceil((need - tm.u8.length) / 65536));
        tm.u8 = new Uint8Array(tm.memory.buffer);
        tm.u32 = new Uint32Array(tm.memory.buffer);
    }
}

// Fixed-base [s]G for many scalars s: a table of d * 256^j * G (affine, 32 windows of
// 8 bits) in wasm memory, then at most 32 mixed additions per point and one batch
// conversion to affine per chunk: ~6x fewer operations than a double-and-add per point
// (`G.timesFr`), same points.
function fixedBase(curve, group) {
    const G = curve[group];
    const tm = curve.tm;
    const ex = tm.instance.exports;
    const pre = group === "G1" ? "g1m" : "g2m";
    const sA = G.F.n8 * 2;
    const sJ = G.F.n8 * 3;
    reserve(tm, 32 * 256 * sA + sJ);
    const pTable = tm.alloc(32 * 256 * sA);
    let base = G.g;
    for (let j = 0; j < 32; j++) {
        let acc = G.zero;
        for (let d = 0; d < 256; d++) {
            tm.setBuff(pTable + (j * 256 + d) * sA, G.toAffine(acc));
            acc = G.add(acc, base);
        }
        base = acc; // 256 * base
    }
    const pTmp = tm.alloc(sJ);
    const digits = new Uint8Array(curve.Fr.n8);
    return (scalars, n) => {
        const n8 = curve.Fr.n8;
        reserve(tm, 3 * n * (sJ + sA)); // the buffers + batchToAffine's scratch (above them)
        const pOut = tm.alloc(n * sJ);
        const pAff = tm.alloc(n * sA);
        for (let i = 0; i < n; i++) {
            curve.Fr.toRprLE(digits, 0, scalars.subarray(i * n8, (i + 1) * n8)); // normal form
            const slot = pOut + i * sJ;
            let cur = slot;
            let other = pTmp;
            ex[pre + "_zero"](cur);
            for (let j = 0; j < 32; j++) {
                if (digits[j] === 0) continue;
                ex[pre + "_addMixed"](cur, pTable + (j * 256 + digits[j]) * sA, other);
                [cur, other] = [other, cur];
            }
            if (cur !== slot) ex[pre + "_copy"](cur, slot);
        }
        ex[pre + "_batchToAffine"](pOut, n, pAff);
        const out = tm.getBuff(pAff, n * sA);
        tm.u32[0] = pOut; // free this chunk's buffers
        return out;
    };
}

// Worker: affine points [s_i]G for a chunk of scalars (its own single-threaded curve).
async function helperMain() {
    const curve = await ff.getCurveFromName("bn128", true);
    const tables = {};
    process.on("message", ({ group, scalars }) => {
        tables[group] = tables[group] || fixedBase(curve, group);
        const input = Buffer.from(scalars, "base64");
        const out = tables[group](input, input.length / curve.Fr.n8);
        process.send(Buffer.from(out).toString("base64"));
    });
    process.on("disconnect", () => process.exit(0));
}

class Pool {
    constructor(size) {
        this.workers = Array.from({ length: size }, () =>
            fork(__filename, ["--helper"], { stdio: ["ignore", "ignore", "inherit", "ipc"] }),
        );
    }

    run(worker, group, scalars) {
        return new Promise((resolve, reject) => {
            const fail = (err) => {
                worker.off("message", ok);
                reject(err);
            };
            const ok = (msg) => {
                worker.off("error", fail);
                resolve(Buffer.from(msg, "base64"));
            };
            worker.once("message", ok);
            worker.once("error", fail);
            worker.send({ group, scalars: Buffer.from(scalars).toString("base64") });
        });
    }

    // Affine points [s_i]G for each scalar of `scalars` (a buffer of n Fr elements).
    async points(group, G, Fr, scalars, n, label) {
        const sG = G.F.n8 * 2;
        const out = new ff.BigBuffer(n * sG);
        const chunk = Math.max(1, Math.min(4096, Math.ceil(n / this.workers.length)));
        let next = 0;
        let done = 0;
        let reported = 0;
        const lane = async (worker) => {
            while (next < n) {
                const start = next;
                const end = Math.min(n, start + chunk);
                next = end;
                const part = Uint8Array.from(scalars.slice(start * Fr.n8, end * Fr.n8));
                out.set(await this.run(worker, group, part), start * sG);
                done += end - start;
                if (n >= 16384 && done - reported >= n / 10) {
                    reported = done;
                    progress(`${label}: ${Math.round((100 * done) / n)}%`);
                }
            }
        };
        await Promise.all(this.workers.map(lane));
        return out;
    }

    async close() {
        for (const w of this.workers) w.disconnect();
    }
}

async function main() {
    const [powerArg, seed, outFile] = process.argv.slice(2);
    const power = Number(powerArg);
    if (!Number.isInteger(power) || power < 1 || power > 27 || !seed || !outFile) {
        throw new Error("usage: dev_ptau.cjs POWER(1..27) SEED_HEX OUT.ptau");
    }
    const curve = await ff.getCurveFromName("bn128");
    const { Fr, G1, G2 } = curve;
    const pool = new Pool(Math.max(1, Math.min(os.cpus().length, 8)));
    const tau = scalarFromSeed(Fr, seed, "tau");
    const alpha = scalarFromSeed(Fr, seed, "alpha");
    const beta = scalarFromSeed(Fr, seed, "beta");
    const n = 2 ** power;

    const fd = await binFileUtils.createBinFile(outFile, "ptau", 1, 11);
    // 1: header (n8, q, power, ceremony power).
    await binFileUtils.startWriteSection(fd, 1);
    await fd.writeULE32(curve.F1.n8);
    const q = new Uint8Array(curve.F1.n8);
    ff.Scalar.toRprLE(q, 0, curve.q, curve.F1.n8);
    await fd.write(q);
    await fd.writeULE32(power);
    await fd.writeULE32(power);
    await binFileUtils.endWriteSection(fd);

    // 2-5: tau powers (monomial basis); 6: beta*G2; 7: no contributions.
    const tauPowers = await geometric(Fr, 2 * n - 1, Fr.one, tau);
    const sections = [
        [2, G1, Fr.one, 2 * n - 1, "tauG1"],
        [3, G2, Fr.one, n, "tauG2"],
        [4, G1, alpha, n, "alphaTauG1"],
        [5, G1, beta, n, "betaTauG1"],
    ];
    for (const [id, G, first, count, label] of sections) {
        const sG = G.F.n8 * 2;
        const gens = new ff.BigBuffer(count * sG);
        const g = G.toAffine(G.g);
        for (let i = 0; i < count; i++) gens.set(g, i * sG);
        const pts = await G.batchApplyKey(gens, first, tau, "affine", "affine");
        await binFileUtils.startWriteSection(fd, id);
        await fd.write(pts);
        await binFileUtils.endWriteSection(fd);
        progress(`${label}: done`);
    }
    await binFileUtils.startWriteSection(fd, 6);
    await fd.write(G2.toAffine(G2.timesFr(G2.g, beta)));
    await binFileUtils.endWriteSection(fd);
    await binFileUtils.startWriteSection(fd, 7);
    await fd.writeULE32(0);
    await binFileUtils.endWriteSection(fd);

    // 12-15: Lagrange-basis points for every level p (and p = power+1 for tauG1).
    const lagrange = [
        [12, "G1", Fr.one, "lagrange tauG1"],
        [13, "G2", Fr.one, "lagrange tauG2"],
        [14, "G1", alpha, "lagrange alphaTauG1"],
        [15, "G1", beta, "lagrange betaTauG1"],
    ];
    for (const [id, group, factor, label] of lagrange) {
        const G = curve[group];
        await binFileUtils.startWriteSection(fd, id);
        const top = id === 12 ? power + 1 : power;
        for (let p = 0; p <= top; p++) {
            const m = 2 ** p;
            const coeffs = new ff.BigBuffer(m * Fr.n8);
            coeffs.set(tauPowers.slice(0, Math.min(m, 2 * n - 1) * Fr.n8), 0);
            if (m > 2 * n - 1) coeffs.set(Fr.zero, (m - 1) * Fr.n8);
            let scalars = await Fr.ifft(coeffs);
            if (!Fr.eq(factor, Fr.one)) scalars = await Fr.batchApplyKey(scalars, factor, Fr.one);
            await fd.write(await pool.points(group, G, Fr, scalars, m, `${label} 2^${p}`));
        }
        await binFileUtils.endWriteSection(fd);
    }
    await fd.close();
    await pool.close();
    await curve.terminate();
}

module.exports = { Pool, scalarFromSeed, progress, ff, binFileUtils };

if (IS_HELPER) {
    helperMain();
} else if (require.main === module) main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`Error: ${err && err.message ? err.message : err}\n`);
        process.exit(1);
    },
);
