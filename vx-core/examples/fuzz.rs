//! Instruction-level differential fuzzer: random short sequences of i386
//! instructions run natively (a `gcc -m32` helper) and under vx-core; the
//! final registers, flags, memory and x87/MMX/SSE state are compared.
//!
//!     cargo run --release -p vx-core --example fuzz -- --cases 1000000 --seed 1
//!
//! Options:
//!   --seed S         run seed (decimal or 0x-hex; default 1)
//!   --cases N        number of cases (default 100000)
//!   --first I        first case index (default 0)
//!   --case I         run only case I and print it in full, pass or fail
//!   --reports K      print at most K mismatch reports (default 20)
//!   --no-skip        also generate the forms of known translator bugs
//!   --list           list the instruction forms in the generator's table
//!   --quiet          no progress line
//!   --stats          print how often each mnemonic was tested and how cases ended
//!
//! Exit status 1 if any case mismatched. See vx-core/tests/fuzz/README.md.

#[path = "../tests/fuzz/common.rs"]
mod common;

use std::io::Write;
use std::path::PathBuf;

fn num(s: &str) -> u64 {
    let r = if let Some(h) = s.strip_prefix("0x") { u64::from_str_radix(h, 16) } else { s.parse() };
    r.unwrap_or_else(|_| {
        eprintln!("fuzz: bad number {s:?}");
        std::process::exit(2)
    })
}

fn main() {
    let mut seed = 1u64;
    let mut cases = 100_000u64;
    let mut first = 0u64;
    let mut single: Option<u64> = None;
    let mut reports = 20usize;
    let mut no_skip = false;
    let mut list = false;
    let mut quiet = false;
    let mut stats = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next().unwrap_or_else(|| {
                eprintln!("fuzz: {a} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--seed" => seed = num(&val()),
            "--cases" => cases = num(&val()),
            "--first" => first = num(&val()),
            "--case" => single = Some(num(&val())),
            "--reports" => reports = num(&val()) as usize,
            "--no-skip" => no_skip = true,
            "--list" => list = true,
            "--quiet" => quiet = true,
            "--stats" => stats = true,
            "-h" | "--help" => {
                eprintln!("usage: fuzz [--seed S] [--cases N] [--first I] [--case I] [--reports K] [--no-skip] [--list] [--quiet] [--stats]");
                return;
            }
            _ => {
                eprintln!("fuzz: unknown option {a}");
                std::process::exit(2)
            }
        }
    }
    // The native helper goes next to this executable (target/<profile>/examples).
    let dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut f = match common::Fuzzer::new(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fuzz: cannot build the native helper: {e}");
            std::process::exit(2)
        }
    };
    f.gen.no_skip = no_skip;
    if list {
        for (cat, n) in f.gen.table_sizes() {
            println!("# {cat:?}: {n} forms");
        }
        let mut codes: Vec<String> = f.gen.table_codes().map(|c| format!("{c:?}")).collect();
        codes.sort();
        for c in codes {
            println!("{c}");
        }
        return;
    }
    if let Some(i) = single {
        let (c, n, v) = f.one(seed, i);
        println!("seed {seed} case {i}: {} bytes", c.code.len());
        print!("{}", common::disasm(&c.code));
        println!("initial: {}", common::describe_state(&c));
        println!("native: end {} at +{:#x} ({})", n.signo, n.eip, n.note);
        println!("vx:     end {} at +{:#x} ({})", v.signo, v.eip, v.note);
        for r in 0..8 {
            println!("  {}: native {:08x} vx {:08x}", common::REG_NAMES[r], n.regs[r], v.regs[r]);
        }
        println!("  eflags: native {:08x} vx {:08x}", n.eflags, v.eflags);
        let d = common::compare(&n, &v);
        if d.is_empty() {
            println!("PASS");
        } else {
            print!("{}", common::report(&c, &d));
            std::process::exit(1);
        }
        return;
    }
    let tsizes = f.gen.table_sizes();
    eprintln!(
        "fuzz: seed {seed}, cases {first}..{}, table forms: {}",
        first + cases,
        tsizes.iter().map(|(c, n)| format!("{c:?} {n}")).collect::<Vec<_>>().join(", ")
    );
    let mut last = std::time::Instant::now();
    let s = f.run(seed, first, cases, reports, |s| {
        if !quiet && last.elapsed().as_secs_f64() > 1.0 {
            last = std::time::Instant::now();
            eprint!("\r{} cases, {} mismatches, {:.1}s   ", s.cases, s.cases - s.passed, s.elapsed.as_secs_f64());
            let _ = std::io::stderr().flush();
        }
    });
    if !quiet {
        eprintln!();
    }
    for m in s.mismatches.iter().filter(|m| !m.is_empty()) {
        println!("{m}");
    }
    if stats {
        for (m, n) in &s.tested {
            println!("tested {m:<16} {n}");
        }
        for (sig, n) in &s.signals {
            println!("ended {:<10} {n}", if *sig == 0 { "normally".to_string() } else { format!("signal {sig}") });
        }
    }
    let per_k = s.elapsed.as_secs_f64() * 1000.0 / s.cases.max(1) as f64;
    println!(
        "fuzz: seed {seed}: {} cases, {} passed, {} mismatched; {} ran to the end, {} ended in a signal; {:.1}s ({:.3}s per 1000 cases); {} distinct mnemonics tested",
        s.cases,
        s.passed,
        s.cases - s.passed,
        s.completed,
        s.faulted,
        s.elapsed.as_secs_f64(),
        per_k,
        s.tested.len()
    );
    if s.passed != s.cases {
        std::process::exit(1);
    }
}
