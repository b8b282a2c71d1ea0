//! Instruction-level differential fuzzing: random short sequences of i386
//! instructions run natively (a `gcc -m32` helper) and under vx-core, and
//! the final registers, flags, memory and x87/MMX/SSE state are compared.
//! See tests/fuzz/README.md for the generator and the long-running command.
//!
//! Runs 10000 cases of a fixed seed, plus as many of `VX_FUZZ_SEED` if set
//! (`VX_FUZZ_CASES` changes the count). Known translator bugs are skipped
//! by the generator (see `known_bug` in common.rs); `VX_FUZZ_NO_SKIP=1`
//! generates them anyway.

#[path = "fuzz/common.rs"]
mod common;

use std::io::Write;
use std::path::Path;

const FIXED_SEED: u64 = 0x5eed_0001;

fn fuzz(f: &mut common::Fuzzer, seed: u64, cases: u64) -> bool {
    let s = f.run(seed, 0, cases, 10, |_| {});
    let per_k = s.elapsed.as_secs_f64() * 1000.0 / s.cases.max(1) as f64;
    eprintln!(
        "insn_fuzz: seed {seed:#x}: {} cases, {} passed ({} ran to the end, {} ended in a signal), {:.2}s ({per_k:.3}s per 1000)",
        s.cases,
        s.passed,
        s.completed,
        s.faulted,
        s.elapsed.as_secs_f64()
    );
    let n = s.mismatches.len();
    for m in s.mismatches.iter().filter(|m| !m.is_empty()) {
        eprintln!("{m}");
    }
    if n > 0 {
        eprintln!("insn_fuzz: seed {seed:#x}: {n} mismatching cases");
    }
    n == 0
}

/// The fuzzer for test `name`, its native helper built in a directory of
/// that name; None (the test is skipped, and says so on stderr) without
/// gcc -m32.
fn fuzzer(name: &str) -> Option<common::Fuzzer> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    match common::Fuzzer::new(&dir) {
        Ok(f) => Some(f),
        Err(e) => {
            // Straight to the stderr stream: the test harness captures
            // eprintln! of passing tests, and this must be seen.
            let msg = format!(
                "\n*** {name} SKIPPED: cannot build or start the native helper (gcc -m32) \
                 (install gcc-multilib): {e}\n\n"
            );
            let _ = std::io::stderr().write_all(msg.as_bytes());
            println!("{name} SKIPPED (no gcc -m32)");
            None
        }
    }
}

#[test]
fn insn_fuzz() {
    let Some(mut f) = fuzzer("insn_fuzz") else { return };
    f.gen.no_skip = std::env::var_os("VX_FUZZ_NO_SKIP").is_some_and(|v| v != "0");
    let cases: u64 = std::env::var("VX_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let mut ok = fuzz(&mut f, FIXED_SEED, cases);
    if let Ok(s) = std::env::var("VX_FUZZ_SEED") {
        let seed = if let Some(h) = s.strip_prefix("0x") { u64::from_str_radix(h, 16) } else { s.parse() }
            .expect("VX_FUZZ_SEED: a number");
        ok &= fuzz(&mut f, seed, cases);
    }
    assert!(ok, "the translator and the CPU disagree (reports above)");
}

/// The decimal adjustments (DAA, DAS, AAA, AAS), which vx-core emulates
/// since 64-bit mode lacks them, for every AL with AH and the input flags
/// varied. The manuals leave some of their flags undefined and Intel and
/// AMD CPUs set them differently: a guest must see its host's.
#[test]
fn decimal_adjust_every_al() {
    let Some(mut f) = fuzzer("decimal_adjust_every_al") else { return };
    let template = f.gen.case(FIXED_SEED, 0);
    let mut cases = Vec::new();
    for op in [0x27u8, 0x2f, 0x37, 0x3f] {
        for ah in [0u32, 0x7f, 0x80, 0xff] {
            for al in 0..256u32 {
                // CF and AF in each combination, with the other arithmetic
                // flags clear, and set.
                for flags in [0x000, 0x001, 0x010, 0x011, 0x8c4, 0x8d5] {
                    let mut c = template.clone();
                    c.code = vec![op];
                    c.tested.clear();
                    c.regs[0] = 0x5a5a_0000 | ah << 8 | al;
                    c.eflags = 0x202 | flags;
                    cases.push(c);
                }
            }
        }
    }
    let s = f.check(&cases, 10);
    for m in s.mismatches.iter().filter(|m| !m.is_empty()) {
        eprintln!("{m}");
    }
    assert_eq!(s.passed, s.cases, "{} of {} cases differ (reports above)", s.cases - s.passed, s.cases);
}
