//! Shared code of the instruction-level differential fuzzer: the test-case
//! generator, the native runner (tests/fuzz/native.c, built with
//! `gcc -m32`), the translator runner and the comparison.
//!
//! Included with `#[path]` by `tests/insn_fuzz.rs` (the cargo test) and
//! `examples/fuzz.rs` (the long-running command); see tests/fuzz/README.md.
//!
//! A case is a short random sequence of non-branch i386 instructions (each
//! "unit" is one instruction under test, possibly preceded by a few setup
//! instructions that keep it from faulting or give it interesting inputs),
//! a random initial state (general registers, eflags, a data area, the
//! x87/MMX/SSE state as an fxsave image), and the code's bytes. The same
//! case runs natively (code followed by `int3`) and under vx-core (code
//! followed by `int 0x80`), and the final states are compared.
//!
//! Everything the generated code touches lies in the page at `DATA_BASE`
//! or, with 16-bit addressing, the page at `LOW_BASE`: memory operands
//! address `[DATA_BASE, DATA_BASE + MEM_SPAN)` (always `ebx`-relative in the
//! plain form; other addressing modes are set up so they reach the same
//! bytes), string instructions work around `DATA_BASE + 0x280`, and `esp`
//! points at `DATA_BASE + 0x380` at the start. No instruction under test
//! may write `ebx` or `esp` (except the stack instructions, whose effect on
//! `esp` the generator tracks).

#![allow(dead_code)]

use iced_x86::{
    Code, CpuidFeature, Decoder, DecoderOptions, Encoder, EncodingKind, FlowControl, Formatter, Instruction,
    InstructionInfoFactory, IntelFormatter, MemoryOperand, Mnemonic, OpAccess, OpCodeOperandKind as K, OpKind,
    Register, RepPrefixKind,
};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use vx_core::window::pf;
use vx_core::{Guest, Trap};

pub const CODE_BASE: u32 = 0x1000_0000;
pub const DATA_BASE: u32 = 0x2000_0000;
/// Largest code sequence (the terminator included).
pub const CODE_MAX: usize = 1024;
/// Bytes of the data page that are initialised randomly and compared.
pub const DATA_LEN: usize = 1024;
/// A second data page low in the address space, for 16-bit addressing
/// (`67` prefix: the address is computed modulo 64 KiB); its first
/// LOW_LEN bytes are random and compared, after the DATA_LEN ones.
pub const LOW_BASE: u32 = 0x8000;
pub const LOW_LEN: usize = 256;
/// Bytes of data per case: the data page's DATA_LEN, then the low page's.
pub const ALL_DATA: usize = DATA_LEN + LOW_LEN;
/// Memory operands fall in `[DATA_BASE, DATA_BASE + MEM_SPAN)`.
const MEM_SPAN: u32 = 224;
/// Initial esp (offset in the data page) and the range the stack units keep it in.
const ESP0: u32 = 0x380;
const ESP_MIN: u32 = 0x240;
const ESP_MAX: u32 = 0x3f0;
/// esi/edi of the string units start in `[STR_LO, STR_LO + 0x80)`.
const STR_LO: u32 = 0x240;

const MAGIC_IN: u32 = 0x4946_5856; // "VXFI"
const MAGIC_OUT: u32 = 0x4f46_5856; // "VXFO"
const MAGIC_READY: u32 = 0x5246_5856; // "VXFR"
const IN_SIZE: usize = 8 + CODE_MAX + 32 + 4 + ALL_DATA + 512;
const OUT_SIZE: usize = 24 + 32 + 4 + ALL_DATA + 512;
/// Cases in flight to the native helper at once; a batch of inputs and a
/// batch of outputs must each fit in a pipe buffer (64 KiB).
const BATCH: usize = 16;

/// eflags bits compared: CF PF AF ZF SF DF OF.
pub const FLAGS_MASK: u32 = 0x0cd5;

pub const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

// ---------------------------------------------------------------------------
// Known translator bugs: instruction forms the generator leaves out so the
// suite stays green. Each entry names the bug; `--no-skip` (example) or
// VX_FUZZ_NO_SKIP=1 (test) generates them anyway.
// ---------------------------------------------------------------------------

/// Why an instruction form is skipped, if it is.
///
/// None are open. Fixed, found here: 0x82 ALU aliases (SIGILL); into's
/// trap eip; arpl to memory; aad's CF/AF/OF; 16-bit leave; pop to a 16-bit
/// address; bound's 16-bit wrap; [reg16+0000h]; string instructions with
/// si/di/cx; stale x87 registers in fresh guests; popfw's NT and TF;
/// SIGBUS for alignment-check faults.
pub fn known_bug(_i: &Instruction) -> Option<&'static str> {
    None
}

/// Whether a memory operand uses 16-bit addressing.
fn is_addr16(i: &Instruction) -> bool {
    (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory)
        && (matches!(i.memory_base(), Register::BX | Register::BP | Register::SI | Register::DI)
            || matches!(i.memory_index(), Register::SI | Register::DI)
            || (i.memory_base() == Register::None && i.memory_index() == Register::None && i.memory_displ_size() == 2))
}

/// Whether an instruction touches x87/MMX state (as the translator's
/// `uses_x87` decides it).
pub fn touches_x87(i: &Instruction) -> bool {
    (0..i.op_count())
        .any(|n| i.op_kind(n) == OpKind::Register && (i.op_register(n).is_mm() || i.op_register(n).is_st()))
        || i.cpuid_features()
            .iter()
            .any(|f| matches!(f, CpuidFeature::FPU | CpuidFeature::FPU287 | CpuidFeature::FPU387 | CpuidFeature::MMX))
        || i.mnemonic() == Mnemonic::Wait
}

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

/// splitmix64: small, fast, and good enough for test generation.
#[derive(Clone)]
pub struct Rng(u64);

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The generator of case `index` of run `seed`: every case can be
    /// reproduced on its own.
    pub fn for_case(seed: u64, index: u64) -> Rng {
        Rng(mix64(seed ^ mix64(index.wrapping_add(0x9e37_79b9_7f4a_7c15))))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn range(&mut self, lo: u32, hi_incl: u32) -> u32 {
        lo + self.below((hi_incl - lo) as u64 + 1) as u32
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len() as u64) as usize]
    }
    /// A 32-bit value biased towards the edges integer code cares about.
    pub fn interesting32(&mut self) -> u32 {
        let small = self.below(17) as u32;
        match self.below(12) {
            0 => 0,
            1 => small,
            2 => small.wrapping_neg(),
            3 => 0x8000_0000u32.wrapping_add(small).wrapping_sub(8),
            4 => 0x7fff_fff0 + small,
            5 => 1 << self.below(32),
            6 => (1u32 << self.below(32)).wrapping_sub(1),
            7 => self.u32() & 0xff,
            8 => self.u32() & 0xffff,
            9 => (self.u32() as i8) as i32 as u32,
            _ => self.u32(),
        }
    }
    /// A double, mostly finite, with a fair share of special values.
    pub fn double(&mut self) -> f64 {
        match self.below(16) {
            0 => 0.0,
            1 => -0.0,
            2 => 1.0,
            3 => -1.0,
            4 => (self.below(2001) as f64 - 1000.0) / self.range(1, 16) as f64,
            5 => f64::from_bits(self.next() & 0x800f_ffff_ffff_ffff), // denormal
            6 => [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MAX, f64::MIN_POSITIVE][self.below(5) as usize],
            7 => (self.u32() as i32) as f64,
            8 => 0.5 + self.below(3) as f64, // ties for rounding
            _ => {
                // random sign and mantissa, exponent in a moderate range
                let e = 1023 + self.below(129) - 64;
                f64::from_bits((self.next() & 0x800f_ffff_ffff_ffff) | (e << 52))
            }
        }
    }
}

/// 80-bit extended value of a double (finite values keep their value;
/// specials become the matching extended special).
fn f64_to_ext(d: f64, extra: u64) -> [u8; 10] {
    let b = d.to_bits();
    let sign = (b >> 63) as u16;
    let exp = ((b >> 52) & 0x7ff) as u16;
    let frac = b & ((1 << 52) - 1);
    let (e, m) = if exp == 0 && frac == 0 {
        (0u16, 0u64)
    } else if exp == 0 {
        // denormal double: a normal extended value
        let lz = frac.leading_zeros() as u16; // >= 12
        let m = frac << lz;
        // value = frac * 2^-1074 = m * 2^(e - 16383 - 63)
        (15372 - lz, m)
    } else if exp == 0x7ff {
        (0x7fff, (1 << 63) | (frac << 11))
    } else {
        (exp + (16383 - 1023), (1 << 63) | (frac << 11) | (extra & 0x7ff))
    };
    let mut out = [0u8; 10];
    out[..8].copy_from_slice(&m.to_le_bytes());
    out[8..].copy_from_slice(&((sign << 15) | e).to_le_bytes());
    out
}

/// Eight bytes of data: integers, floats, doubles, or noise.
fn chunk8(rng: &mut Rng) -> [u8; 8] {
    match rng.below(8) {
        0 => [0; 8],
        1 => (rng.double()).to_le_bytes(),
        2 => {
            let a = (rng.double() as f32).to_bits() as u64;
            let b = (rng.double() as f32).to_bits() as u64;
            (a | b << 32).to_le_bytes()
        }
        3 => (rng.interesting32() as u64 | (rng.interesting32() as u64) << 32).to_le_bytes(),
        4 => [rng.u32() as u8 & 0x8f; 8],
        5 => (rng.below(20) as i64 - 10).to_le_bytes(),
        _ => rng.next().to_le_bytes(),
    }
}

// ---------------------------------------------------------------------------
// Cases and outcomes
// ---------------------------------------------------------------------------

/// One test case.
#[derive(Clone)]
pub struct Case {
    pub seed: u64,
    pub index: u64,
    /// The code, without the terminator.
    pub code: Vec<u8>,
    /// Mnemonics of the instructions under test (for statistics).
    pub tested: Vec<Mnemonic>,
    pub regs: [u32; 8],
    pub eflags: u32,
    pub data: Vec<u8>,
    pub fx: [u8; 512],
    /// The x87 part of `fx` is the initial state of a fresh process (FCW
    /// 0x37f, empty, zero registers) and the translator runs it as a guest
    /// that has not used x87/MMX yet (`x87_live` 0); otherwise the x87 part
    /// is random and goes in through `Guest::fpu_mut`.
    pub fresh_fpu: bool,
}

/// The state after a run.
#[derive(Clone)]
pub struct Outcome {
    /// 0: ran to the end of the code; else the signal number.
    pub signo: i32,
    /// Offset of eip from CODE_BASE: the code length when the run completed,
    /// else where the signal was reported.
    pub eip: u32,
    pub regs: [u32; 8],
    pub eflags: u32,
    pub data: Vec<u8>,
    pub fx: [u8; 512],
    pub fx_valid: bool,
    /// Free-form note (the Trap on the translator side).
    pub note: String,
}

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cat {
    Int,
    X87,
    Mmx,
    Sse,
}

const R32: [Register; 8] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
];
/// Registers an instruction may write (not ebx, the data base, nor esp).
const FREE32: [Register; 6] =
    [Register::EAX, Register::ECX, Register::EDX, Register::EBP, Register::ESI, Register::EDI];

fn r16_of(r: Register) -> Register {
    Register::try_from(r as usize - Register::EAX as usize + Register::AX as usize).unwrap()
}

fn r8_low(r: Register) -> Register {
    Register::try_from(r as usize - Register::EAX as usize + Register::AL as usize).unwrap()
}

fn rand_reg(rng: &mut Rng, size: u32) -> Register {
    // mostly writable registers; ebx/esp (read-only for us) sometimes
    let r = if rng.chance(85) { rng.pick(&FREE32) } else { rng.pick(&R32) };
    match size {
        4 => r,
        2 => r16_of(r),
        _ => {
            let n = rng.below(8) as usize;
            Register::try_from(Register::AL as usize + n).unwrap()
        }
    }
}

fn rand_free(rng: &mut Rng, size: u32) -> Register {
    let r = rng.pick(&FREE32);
    match size {
        4 => r,
        2 => r16_of(r),
        _ => {
            // al cl dl ah ch dh (bl/bh belong to ebx)
            rng.pick(&[Register::AL, Register::CL, Register::DL, Register::AH, Register::CH, Register::DH])
        }
    }
}

fn mm(n: u64) -> Register {
    Register::try_from(Register::MM0 as usize + n as usize).unwrap()
}
fn xmm(n: u64) -> Register {
    Register::try_from(Register::XMM0 as usize + n as usize).unwrap()
}
fn st_reg(n: u64) -> Register {
    Register::try_from(Register::ST0 as usize + n as usize).unwrap()
}

fn mem_ebx(off: i64) -> MemoryOperand {
    MemoryOperand::new(Register::EBX, Register::None, 1, off, 1, false, Register::None)
}

fn ins2(code: Code, a: Register, b: u32) -> Instruction {
    Instruction::with2(code, a, b).expect("setup instruction")
}
fn ins_rr(code: Code, a: Register, b: Register) -> Instruction {
    Instruction::with2(code, a, b).expect("setup instruction")
}
fn ins_mi(code: Code, m: MemoryOperand, b: u32) -> Instruction {
    Instruction::with2(code, m, b).expect("setup instruction")
}
fn ins_rm(code: Code, a: Register, m: MemoryOperand) -> Instruction {
    Instruction::with2(code, a, m).expect("setup instruction")
}

/// `mov reg, imm` for any register size.
fn mov_imm(r: Register, v: u32) -> Instruction {
    match r.size() {
        4 => ins2(Code::Mov_r32_imm32, r, v),
        2 => ins2(Code::Mov_r16_imm16, r, v & 0xffff),
        _ => ins2(Code::Mov_r8_imm8, r, v & 0xff),
    }
}

/// `and`/`or` of a register or memory operand with an immediate.
fn alu_imm(and: bool, op: &Arg, size: u32, v: u32) -> Instruction {
    let code = match (and, size) {
        (true, 1) => Code::And_rm8_imm8,
        (true, 2) => Code::And_rm16_imm16,
        (true, _) => Code::And_rm32_imm32,
        (false, 1) => Code::Or_rm8_imm8,
        (false, 2) => Code::Or_rm16_imm16,
        (false, _) => Code::Or_rm32_imm32,
    };
    let mask = match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    };
    match op {
        Arg::Reg(r) => ins2(code, *r, v & mask),
        Arg::Mem(m) => ins_mi(code, m.op(), v & mask),
        Arg::Imm(_) => unreachable!(),
    }
}

/// A memory operand of a generated instruction: `[ebx + off]` in the plain
/// form; `off` is relative to DATA_BASE.
#[derive(Clone, Copy, Debug)]
struct Mem {
    off: i32,
    base: Register,
    index: Register,
    scale: u32,
    disp: i64,
    displ_size: u32,
}

impl Mem {
    fn plain(off: i32) -> Mem {
        Mem { off, base: Register::EBX, index: Register::None, scale: 1, disp: off as i64, displ_size: 1 }
    }
    fn op(&self) -> MemoryOperand {
        MemoryOperand::new(self.base, self.index, self.scale, self.disp, self.displ_size, false, Register::None)
    }
}

#[derive(Clone, Copy, Debug)]
enum Arg {
    Reg(Register),
    Mem(Mem),
    Imm(u32),
}

/// Build an instruction from operands with the plain setters (operand
/// kinds follow the op code's operand kinds).
fn build(code: Code, args: &[Arg]) -> Instruction {
    let mut ins = Instruction::default();
    ins.set_code(code);
    let kinds = code.op_code().op_kinds();
    let mut imm8_seen = false;
    for (n, a) in args.iter().enumerate() {
        let n = n as u32;
        match *a {
            Arg::Reg(r) => {
                ins.set_op_kind(n, OpKind::Register);
                ins.set_op_register(n, r);
            }
            Arg::Mem(m) => {
                if kinds[n as usize] == K::seg_rDI {
                    ins.set_op_kind(n, OpKind::MemorySegEDI);
                    continue;
                }
                ins.set_op_kind(n, OpKind::Memory);
                ins.set_memory_base(m.base);
                ins.set_memory_index(m.index);
                ins.set_memory_index_scale(m.scale);
                ins.set_memory_displ_size(if m.base == Register::None && m.displ_size != 2 { 4 } else { m.displ_size });
                ins.set_memory_displacement32(m.disp as u32);
                ins.set_segment_prefix(Register::None);
            }
            Arg::Imm(v) => {
                let k = match kinds[n as usize] {
                    K::imm8 | K::imm8_const_1 => {
                        let k = if imm8_seen { OpKind::Immediate8_2nd } else { OpKind::Immediate8 };
                        imm8_seen = true;
                        k
                    }
                    K::imm8sex16 => OpKind::Immediate8to16,
                    K::imm8sex32 => OpKind::Immediate8to32,
                    K::imm16 => OpKind::Immediate16,
                    _ => OpKind::Immediate32,
                };
                ins.set_op_kind(n, k);
                match k {
                    OpKind::Immediate8_2nd => ins.set_immediate8_2nd(v as u8),
                    OpKind::Immediate8 | OpKind::Immediate8to16 | OpKind::Immediate8to32 => ins.set_immediate8(v as u8),
                    OpKind::Immediate16 => ins.set_immediate16(v as u16),
                    _ => ins.set_immediate32(v),
                }
            }
        }
    }
    ins
}

/// Encode one instruction for 32-bit mode and check it decodes back to the
/// same code; return its bytes.
fn encode_checked(ins: &Instruction, ip: u32) -> Option<Vec<u8>> {
    let mut enc = Encoder::new(32);
    let len = enc.encode(ins, ip as u64).ok()?;
    let bytes = enc.take_buffer();
    let mut dec = Decoder::with_ip(32, &bytes, ip as u64, DecoderOptions::NONE);
    let d = dec.decode();
    if d.is_invalid() || d.code() != ins.code() || d.len() != len {
        return None;
    }
    Some(bytes)
}

const ALLOWED_FEATURES: &[CpuidFeature] = &[
    CpuidFeature::INTEL8086,
    CpuidFeature::INTEL186,
    CpuidFeature::INTEL286,
    CpuidFeature::INTEL386,
    CpuidFeature::INTEL486,
    CpuidFeature::FPU,
    CpuidFeature::FPU287,
    CpuidFeature::FPU387,
    CpuidFeature::CMOV,
    CpuidFeature::CX8,
    CpuidFeature::MMX,
    CpuidFeature::SSE,
    CpuidFeature::SSE2,
    CpuidFeature::SSE3,
    CpuidFeature::SSSE3,
    CpuidFeature::SSE4_1,
    CpuidFeature::SSE4_2,
    CpuidFeature::POPCNT,
    CpuidFeature::MOVBE,
    CpuidFeature::AES,
    CpuidFeature::PCLMULQDQ,
    CpuidFeature::SHA,
    CpuidFeature::PREFETCHW,
    CpuidFeature::CLFSH,
    CpuidFeature::MULTIBYTENOP,
    CpuidFeature::PAUSE,
];

/// Mnemonics the table leaves out: nondeterministic (cpuid, rdtsc, rdrand),
/// exposing host addresses by design (fnstenv/fnsave/fxsave store the
/// instruction pointer), segment and system instructions (tested
/// elsewhere), and the stack/string/into forms, which have their own units.
fn denied(m: Mnemonic) -> bool {
    use Mnemonic as M;
    matches!(
        m,
        M::Cpuid
            | M::Rdtsc
            | M::Rdtscp
            | M::Rdpmc
            | M::Rdrand
            | M::Rdseed
            | M::Rdpid
            | M::Xgetbv
            | M::Fxsave
            | M::Fxrstor
            | M::Fnsave
            | M::Fsave
            | M::Frstor
            | M::Fnstenv
            | M::Fstenv
            | M::Fldenv
            | M::Lds
            | M::Les
            | M::Lfs
            | M::Lgs
            | M::Lss
            | M::Lar
            | M::Lsl
            | M::Verr
            | M::Verw
            | M::Sldt
            | M::Str
            | M::Sgdt
            | M::Sidt
            | M::Smsw
            | M::Lmsw
            | M::Cli
            | M::Sti
            | M::Hlt
            | M::Into
            | M::Monitor
            | M::Mwait
            | M::Enter
            | M::Leave
    )
}

/// The table category of a code, if the table can use it.
fn table_category(c: Code) -> Option<Cat> {
    let op = c.op_code();
    if !op.is_instruction()
        || !op.mode32()
        || op.encoding() != EncodingKind::Legacy
        || op.is_privileged()
        || op.must_be_cpl0()
        || op.is_input_output()
        || op.is_stack_instruction()
        || op.address_size() == 16
        || op.operand_size() == 64
        || denied(c.mnemonic())
    {
        return None;
    }
    let feats = c.cpuid_features();
    if feats.is_empty() || feats.iter().any(|f| !ALLOWED_FEATURES.contains(f)) {
        return None;
    }
    let mut cat = Cat::Int;
    for k in op.op_kinds() {
        match k {
            K::mem
            | K::mem_offs
            | K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_rm
            | K::r16_opcode
            | K::r32_reg
            | K::r32_rm
            | K::r32_opcode
            | K::al
            | K::cl
            | K::ax
            | K::eax
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm16
            | K::imm32
            | K::seg_rBX_al
            | K::seg_rDI => {}
            K::st0 | K::sti_opcode => cat = Cat::X87,
            K::mm_reg | K::mm_rm | K::mm_or_mem => {
                if cat != Cat::Sse {
                    cat = Cat::Mmx
                }
            }
            K::xmm_reg | K::xmm_rm | K::xmm_or_mem => cat = Cat::Sse,
            _ => return None,
        }
    }
    if cat == Cat::Int
        && feats.iter().any(|f| matches!(f, CpuidFeature::FPU | CpuidFeature::FPU287 | CpuidFeature::FPU387))
    {
        cat = Cat::X87;
    }
    Some(cat)
}

/// Generation state within one case.
struct GenState {
    /// esp as an offset in the data page.
    esp: u32,
    /// A popfd may have set NT (see BUG-POPFW-NT).
    nt: bool,
}

/// The case generator.
pub struct Gen {
    table: Vec<Vec<Code>>,
    info: InstructionInfoFactory,
    /// Generate forms listed in `known_bug` too.
    pub no_skip: bool,
}

const CATS: [Cat; 4] = [Cat::Int, Cat::X87, Cat::Mmx, Cat::Sse];

impl Gen {
    pub fn new() -> Gen {
        // probe with no_skip set: the table holds the forms of known bugs
        // too, and `table_unit` leaves them out as it generates
        let mut g = Gen { table: vec![Vec::new(); 4], info: InstructionInfoFactory::new(), no_skip: true };
        let mut rng = Rng::new(1);
        for c in Code::values() {
            let Some(cat) = table_category(c) else {
                continue;
            };
            let st = GenState { esp: ESP0, nt: false };
            let ok = (0..40).any(|_| g.table_unit(&mut rng, &st, c, true).is_some());
            if ok {
                g.table[CATS.iter().position(|&x| x == cat).unwrap()].push(c);
            }
        }
        g.no_skip = false;
        g
    }

    /// Number of table codes per category.
    pub fn table_sizes(&self) -> Vec<(Cat, usize)> {
        CATS.iter().zip(&self.table).map(|(c, t)| (*c, t.len())).collect()
    }

    /// All table codes (for listing coverage).
    pub fn table_codes(&self) -> impl Iterator<Item = Code> + '_ {
        self.table.iter().flatten().copied()
    }

    /// Check a generated instruction: no writes to ebx or esp, and no memory
    /// access except the operand we built (or the allowed implicit ones).
    fn acceptable(&mut self, ins: &Instruction, allow_esp: bool) -> bool {
        let info = self.info.info(ins);
        for u in info.used_registers() {
            let full = u.register().full_register32();
            let writes = matches!(
                u.access(),
                OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            );
            if writes && (full == Register::EBX || (full == Register::ESP && !allow_esp)) {
                return false;
            }
        }
        for m in info.used_memory() {
            let ok = (m.base() == Register::EBX && m.index() == Register::None)
                || (m.base() == Register::EBX && m.index() == Register::AL) // xlat
                || (m.base() == Register::EDI && m.index() == Register::None) // maskmov
                || (m.base() == Register::None && m.index() == Register::None)
                || allow_esp;
            if !ok {
                return false;
            }
        }
        true
    }

    /// Registers (full 32-bit) an instruction reads or writes.
    fn regs_used(&mut self, ins: &Instruction) -> Vec<Register> {
        let info = self.info.info(ins);
        info.used_registers().iter().map(|u| u.register().full_register32()).collect()
    }

    fn rand_mem_off(rng: &mut Rng, size: u32) -> i32 {
        let size = size.clamp(1, 64);
        if size > 1 && rng.chance(1) {
            // straddle the unmapped page below DATA_BASE: a fault in both,
            // and no partial write may show in the data area
            return -(rng.range(1, size - 1) as i32);
        }
        let align = if size >= 16 {
            if rng.chance(95) {
                16
            } else {
                1
            }
        } else if rng.chance(60) {
            size.next_power_of_two().min(8)
        } else {
            1
        };
        let max = MEM_SPAN - size;
        ((rng.range(0, max) / align) * align) as i32
    }

    /// Maybe turn the plain `[ebx+off]` operand into another addressing
    /// mode that reaches the same address; return its setup instructions.
    fn fancy_mem(
        &mut self,
        rng: &mut Rng,
        st: &GenState,
        m: &mut Mem,
        avoid: &[Register],
        esp_ok: bool,
        low_ok: bool,
    ) -> Vec<Instruction> {
        let free: Vec<Register> = FREE32.iter().copied().filter(|r| !avoid.contains(r)).collect();
        let off = m.off as i64;
        let mode = rng.below(if low_ok { 12 } else { 10 });
        let scale = rng.pick(&[1u32, 2, 4, 8]);
        // the index value: small, or any 32-bit value so that the address
        // computation wraps around 4 GiB as an i386's does
        let k = if rng.chance(25) { rng.u32() as i64 } else { rng.below(33) as i64 };
        let wrap = |x: i64| (x as u32 as i32) as i64;
        match mode {
            0..=2 => {
                // plain, with a random displacement size
                m.displ_size = if rng.chance(30) { 4 } else { 1 };
                if m.disp == 0 && rng.chance(50) {
                    m.displ_size = 0;
                }
                vec![]
            }
            3 => {
                // absolute [disp32]
                m.base = Register::None;
                m.disp = DATA_BASE as i64 + off;
                vec![]
            }
            4 if !free.is_empty() => {
                // [index*scale + disp32]
                let r = rng.pick(&free);
                m.base = Register::None;
                m.index = r;
                m.scale = scale;
                m.disp = wrap(DATA_BASE as i64 + off - k * scale as i64);
                vec![mov_imm(r, k as u32)]
            }
            5 if !free.is_empty() => {
                // [ebx + index*scale + disp]
                let r = rng.pick(&free);
                m.index = r;
                m.scale = scale;
                m.disp = wrap(off - k * scale as i64);
                m.displ_size = if rng.chance(30) { 4 } else { 1 };
                vec![mov_imm(r, k as u32)]
            }
            6 if !free.is_empty() => {
                // [reg + ebx*1 + disp]
                let r = rng.pick(&free);
                m.base = r;
                m.index = Register::EBX;
                m.scale = 1;
                m.disp = wrap(off - k);
                vec![mov_imm(r, k as u32)]
            }
            7 if !free.is_empty() => {
                // [reg + disp] with reg pointing into the data page
                let r = rng.pick(&free);
                let k = rng.below(0x200) as i64;
                m.base = r;
                m.disp = off - k;
                m.displ_size = if rng.chance(30) { 4 } else { 1 };
                if m.disp == 0 && rng.chance(50) {
                    m.displ_size = 0;
                }
                let lea = Instruction::with2(Code::Lea_r32_m, r, mem_ebx(k)).unwrap();
                vec![lea]
            }
            8 if esp_ok => {
                // [esp + disp]
                m.base = Register::ESP;
                m.disp = off - st.esp as i64;
                m.displ_size = if rng.chance(30) { 4 } else { 1 };
                vec![]
            }
            9 if esp_ok && !free.is_empty() => {
                // [esp + index*scale + disp]
                let r = rng.pick(&free);
                m.base = Register::ESP;
                m.index = r;
                m.scale = scale;
                m.disp = wrap(off - st.esp as i64 - k * scale as i64);
                vec![mov_imm(r, k as u32)]
            }
            10 | 11 => {
                // 16-bit addressing into the low page: [bx+si], [bp+di],
                // [si], [disp16] ... (bx is 0: the low half of ebx). The
                // registers get 16-bit values; their high halves stay
                // random and must not count.
                let (base, index) = rng.pick(&[
                    (Register::BX, Register::SI),
                    (Register::BX, Register::DI),
                    (Register::BP, Register::SI),
                    (Register::BP, Register::DI),
                    (Register::SI, Register::None),
                    (Register::DI, Register::None),
                    (Register::BP, Register::None),
                    (Register::BX, Register::None),
                    (Register::None, Register::None),
                ]);
                let mut setup = Vec::new();
                let mut sum = 0u32;
                for r in [base, index] {
                    if matches!(r, Register::SI | Register::DI | Register::BP) {
                        if avoid.contains(&r.full_register32()) {
                            return vec![];
                        }
                        let v = if rng.chance(50) { rng.u32() & 0xffff } else { rng.below(0x40) as u32 };
                        setup.push(mov_imm(r, v));
                        sum = sum.wrapping_add(v);
                    }
                }
                let target = (LOW_BASE as i64 + off) as u32;
                let disp = target.wrapping_sub(sum) & 0xffff;
                m.base = base;
                m.index = index;
                m.scale = 1;
                m.disp = disp as i64;
                m.displ_size = if base == Register::None { 2 } else { rng.pick(&[1, 2]) };
                if disp == 0 && base != Register::None && rng.chance(50) {
                    m.displ_size = 0;
                }
                setup
            }
            _ => vec![],
        }
    }

    /// One unit from the instruction table: setup instructions and the
    /// instruction under test (last).
    fn table_unit(&mut self, rng: &mut Rng, st: &GenState, code: Code, probe: bool) -> Option<Vec<Instruction>> {
        use Mnemonic as M;
        let op = code.op_code();
        let mn = code.mnemonic();
        let kinds = op.op_kinds();
        let msize = op.memory_size().size() as u32;
        let mut args: Vec<Arg> = Vec::new();
        let mut pre: Vec<Instruction> = Vec::new();
        let mut mem_at: Option<usize> = None;
        let mem_pct = if probe { 50 } else { 40 };
        let is_shift =
            matches!(mn, M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shld | M::Shrd);
        for (n, k) in kinds.iter().enumerate() {
            let size_of = |k: &K| match k {
                K::r8_or_mem | K::r8_reg | K::r8_opcode => 1,
                K::r16_or_mem | K::r16_reg | K::r16_rm | K::r16_opcode => 2,
                _ => 4,
            };
            let a = match k {
                K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::mm_or_mem | K::xmm_or_mem
                    if mem_at.is_none() && rng.chance(mem_pct) =>
                {
                    mem_at = Some(n);
                    Arg::Mem(Mem::plain(Self::rand_mem_off(rng, msize)))
                }
                K::r8_or_mem | K::r16_or_mem | K::r32_or_mem => Arg::Reg(rand_reg(rng, size_of(k))),
                K::r8_reg
                | K::r8_opcode
                | K::r16_reg
                | K::r16_rm
                | K::r16_opcode
                | K::r32_reg
                | K::r32_rm
                | K::r32_opcode => Arg::Reg(rand_reg(rng, size_of(k))),
                K::mm_or_mem | K::mm_reg | K::mm_rm => Arg::Reg(mm(rng.below(8))),
                K::xmm_or_mem | K::xmm_reg | K::xmm_rm => Arg::Reg(xmm(rng.below(8))),
                K::mem | K::mem_offs => {
                    mem_at = Some(n);
                    Arg::Mem(Mem::plain(Self::rand_mem_off(rng, msize)))
                }
                K::seg_rBX_al => {
                    let mut m = Mem::plain(0);
                    m.index = Register::AL;
                    m.disp = 0;
                    m.displ_size = 0;
                    Arg::Mem(m)
                }
                K::seg_rDI => {
                    let off = Self::rand_mem_off(rng, 16);
                    let off = off.max(0);
                    pre.push(Instruction::with2(Code::Lea_r32_m, Register::EDI, mem_ebx(off as i64)).unwrap());
                    Arg::Mem(Mem::plain(off))
                }
                K::al => Arg::Reg(Register::AL),
                K::cl => Arg::Reg(Register::CL),
                K::ax => Arg::Reg(Register::AX),
                K::eax => Arg::Reg(Register::EAX),
                K::st0 => Arg::Reg(Register::ST0),
                K::sti_opcode => Arg::Reg(st_reg(rng.below(8))),
                K::imm8_const_1 => Arg::Imm(1),
                K::imm8 | K::imm8sex16 | K::imm8sex32 if is_shift && rng.chance(80) => Arg::Imm(rng.range(0, 63)),
                K::imm8 if matches!(mn, M::Aam | M::Aad) && rng.chance(40) => Arg::Imm(10),
                K::imm8 | K::imm8sex16 | K::imm8sex32 => Arg::Imm(rng.u32() & 0xff),
                K::imm16 => Arg::Imm(rng.interesting32() & 0xffff),
                K::imm32 => Arg::Imm(rng.interesting32()),
                _ => return None,
            };
            args.push(a);
        }
        // lea: any registers, any displacement; nothing is accessed
        if matches!(mn, M::Lea) {
            let base = if rng.chance(85) { rng.pick(&R32) } else { Register::None };
            let index = if rng.chance(60) {
                rng.pick(&[
                    Register::EAX,
                    Register::ECX,
                    Register::EDX,
                    Register::EBX,
                    Register::EBP,
                    Register::ESI,
                    Register::EDI,
                ])
            } else {
                Register::None
            };
            let disp = if rng.chance(50) { rng.interesting32() as i64 } else { (rng.u32() as i8) as i64 };
            let m = Mem {
                off: 0,
                base,
                index,
                scale: rng.pick(&[1u32, 2, 4, 8]),
                disp: if base == Register::None && index == Register::None { disp & 0xffff_ffff } else { disp },
                displ_size: if rng.chance(30) { 4 } else { 1 },
            };
            args[1] = Arg::Mem(m);
            let ins = build(code, &args);
            encode_checked(&ins, CODE_BASE)?;
            if !self.acceptable(&ins, false) {
                return None;
            }
            return Some(vec![ins]);
        }

        let mem_plain = mem_at.and_then(|n| match args[n] {
            Arg::Mem(m) => Some(m),
            _ => None,
        });

        // Per-instruction setup.
        match mn {
            M::Div | M::Idiv => {
                let w = match kinds[0] {
                    K::r8_or_mem => 1u32,
                    K::r16_or_mem => 2,
                    _ => 4,
                };
                let bits = w * 8;
                if let Arg::Reg(_) = args[0] {
                    // divisor not among the dividend registers
                    let r = match w {
                        1 => rng.pick(&[Register::CL, Register::CH, Register::DL, Register::DH]),
                        _ => {
                            let r = rng.pick(&[Register::ECX, Register::ESI, Register::EDI, Register::EBP]);
                            if w == 2 {
                                r16_of(r)
                            } else {
                                r
                            }
                        }
                    };
                    args[0] = Arg::Reg(r);
                }
                let hi = match w {
                    1 => Register::AH,
                    2 => Register::DX,
                    _ => Register::EDX,
                };
                let src_ro = matches!(args[0], Arg::Reg(r) if r.full_register32() == Register::EBX);
                if rng.chance(92) {
                    let wmask = if w == 4 { u32::MAX } else { (1u32 << bits) - 1 };
                    if mn == M::Div || rng.chance(50) {
                        // hi < 2^k <= divisor (and for idiv: both positive)
                        let signed = mn == M::Idiv;
                        let k = rng.range(0, bits - if signed { 2 } else { 1 });
                        pre.push(alu_imm(true, &Arg::Reg(hi), w, (1u32 << k) - 1));
                        if src_ro {
                            return None;
                        }
                        let kk = if signed { k + 1 } else { k };
                        pre.push(alu_imm(false, &args[0], w, 1u32 << kk));
                        if signed {
                            pre.push(alu_imm(true, &args[0], w, wmask >> 1));
                        }
                    } else {
                        // sign-extended dividend, divisor not 0 or -1
                        pre.push(Instruction::with(match w {
                            1 => Code::Cbw,
                            2 => Code::Cwd,
                            _ => Code::Cdq,
                        }));
                        if src_ro {
                            return None;
                        }
                        pre.push(alu_imm(false, &args[0], w, 1));
                        pre.push(alu_imm(true, &args[0], w, wmask & !2));
                    }
                }
            }
            M::Bt | M::Bts | M::Btr | M::Btc if mem_at == Some(0) && matches!(args[1], Arg::Reg(_)) => {
                // keep the bit offset within the data area
                let w = if kinds[1] == K::r16_reg { 2 } else { 4 };
                let r = rand_free(rng, w);
                args[1] = Arg::Reg(r);
                pre.push(alu_imm(true, &Arg::Reg(r), w, 0x3ff));
            }
            M::Fldcw => {
                let m = mem_plain?;
                let mut v =
                    0x007f | (rng.below(4) as u32) << 8 | (rng.below(4) as u32) << 10 | (rng.below(16) as u32) << 12;
                if rng.chance(10) {
                    // unmask some x87 exceptions: SIGFPE at the next x87
                    // instruction that finds one pending
                    v &= !(rng.u32() & 0x3f);
                }
                pre.push(ins_mi(Code::Mov_rm16_imm16, m.op(), v));
            }
            M::Ldmxcsr => {
                let m = mem_plain?;
                let mut v = 0x1f80 | (rng.below(4) as u32) << 13;
                if rng.chance(20) {
                    v |= 0x8000;
                }
                if rng.chance(20) {
                    v |= 0x40;
                }
                if rng.chance(20) {
                    v |= rng.u32() & 0x3f;
                }
                if rng.chance(10) {
                    v &= !(rng.u32() & 0x1f80); // unmask some SSE exceptions: SIGFPE
                }
                if rng.chance(2) {
                    v |= 1 << 20; // reserved bit: #GP in both
                }
                pre.push(ins_mi(Code::Mov_rm32_imm32, m.op(), v));
            }
            M::Cmpxchg if rng.chance(35) => {
                let (acc, mv) = match kinds[0] {
                    K::r8_or_mem => (Register::AL, Code::Mov_r8_rm8),
                    K::r16_or_mem => (Register::AX, Code::Mov_r16_rm16),
                    _ => (Register::EAX, Code::Mov_r32_rm32),
                };
                pre.push(match args[0] {
                    Arg::Reg(r) => ins_rr(mv, acc, r),
                    Arg::Mem(m) => ins_rm(mv, acc, m.op()),
                    _ => unreachable!(),
                });
            }
            M::Cmpxchg8b if rng.chance(35) => {
                let m = mem_plain?;
                pre.push(ins_rm(Code::Mov_r32_rm32, Register::EAX, mem_ebx(m.off as i64)));
                pre.push(ins_rm(Code::Mov_r32_rm32, Register::EDX, mem_ebx(m.off as i64 + 4)));
            }
            _ => {}
        }
        // shift counts in cl: mostly 0..63
        if kinds.contains(&K::cl) && rng.chance(70) {
            pre.push(mov_imm(Register::CL, rng.range(0, 63)));
        }

        let mut ins = build(code, &args);
        if op.can_use_lock_prefix() && mem_at == Some(0) && rng.chance(50) {
            ins.set_has_lock_prefix(true);
        }
        if ins.flow_control() != FlowControl::Next || ins.is_string_instruction() {
            return None;
        }
        if ins.memory_size().size() > 64 {
            return None;
        }
        encode_checked(&ins, CODE_BASE)?;
        if !self.acceptable(&ins, false) {
            return None;
        }
        if !self.no_skip && known_bug(&ins).is_some() {
            return None;
        }
        for p in &pre {
            if !self.acceptable(p, false) {
                return None;
            }
        }
        // another addressing mode for the memory operand
        if let (Some(n), Some(mut m)) = (mem_at, mem_plain) {
            if kinds[n] != K::mem_offs {
                let mut avoid = self.regs_used(&ins);
                for p in &pre {
                    avoid.extend(self.regs_used(p));
                }
                let esp_ok = !avoid.contains(&Register::ESP);
                // the low page only when no setup instruction prepared the
                // operand's bytes in the data page
                let low_ok = !pre
                    .iter()
                    .any(|p| p.code() != Code::Lea_r32_m && (0..p.op_count()).any(|n| p.op_kind(n) == OpKind::Memory));
                let setup = self.fancy_mem(rng, st, &mut m, &avoid, esp_ok, low_ok);
                args[n] = Arg::Mem(m);
                let mut ins2 = build(code, &args);
                ins2.set_has_lock_prefix(ins.has_lock_prefix());
                if encode_checked(&ins2, CODE_BASE).is_some() && (self.no_skip || known_bug(&ins2).is_none()) {
                    pre.extend(setup);
                    ins = ins2;
                }
            } else if m.off >= 0 && rng.chance(25) {
                // moffs with a 16-bit address (67 a1 disp16) into the low page
                m.base = Register::None;
                m.disp = (LOW_BASE as i64) + m.off as i64;
                m.displ_size = 2;
                args[n] = Arg::Mem(m);
                let mut ins2 = build(code, &args);
                ins2.set_has_lock_prefix(ins.has_lock_prefix());
                if encode_checked(&ins2, CODE_BASE).is_some() && (self.no_skip || known_bug(&ins2).is_none()) {
                    ins = ins2;
                }
            }
        }
        pre.push(ins);
        Some(pre)
    }

    /// A push/pop unit; updates the tracked esp.
    fn stack_unit(&mut self, rng: &mut Rng, st: &mut GenState) -> Option<Vec<Instruction>> {
        let room_push = |n: u32, st: &GenState| st.esp >= ESP_MIN + n;
        let room_pop = |n: u32, st: &GenState| st.esp + n <= ESP_MAX;
        let mut out = Vec::new();
        match rng.below(14) {
            0 | 1 => {
                // push reg
                let w = if rng.chance(75) { 4 } else { 2 };
                if !room_push(w, st) {
                    return None;
                }
                let r = rng.pick(&R32);
                let i = if w == 4 {
                    Instruction::with1(rng.pick(&[Code::Push_r32, Code::Push_rm32]), r)
                } else {
                    Instruction::with1(rng.pick(&[Code::Push_r16, Code::Push_rm16]), r16_of(r))
                };
                out.push(i.ok()?);
                st.esp -= w;
            }
            2 => {
                // push imm
                let (code, w) = rng.pick(&[
                    (Code::Pushd_imm32, 4u32),
                    (Code::Pushd_imm8, 4),
                    (Code::Push_imm16, 2),
                    (Code::Pushw_imm8, 2),
                ]);
                if !room_push(w, st) {
                    return None;
                }
                let v = match code {
                    Code::Pushd_imm32 => rng.interesting32(),
                    Code::Push_imm16 => rng.u32() & 0xffff,
                    Code::Pushd_imm8 => (rng.u32() as i8) as i32 as u32,
                    _ => (rng.u32() as i8) as i16 as u16 as u32,
                };
                out.push(build(code, &[Arg::Imm(v)]));
                st.esp -= w;
            }
            3 => {
                // push mem
                let w = if rng.chance(75) { 4 } else { 2 };
                if !room_push(w, st) {
                    return None;
                }
                let mut m = Mem::plain(Self::rand_mem_off(rng, w));
                let setup = self.fancy_mem(rng, st, &mut m, &[], true, true);
                out.extend(setup);
                let code = if w == 4 { Code::Push_rm32 } else { Code::Push_rm16 };
                out.push(Instruction::with1(code, m.op()).ok()?);
                st.esp -= w;
            }
            4 | 5 => {
                // pop reg
                let w = if rng.chance(75) { 4 } else { 2 };
                if !room_pop(w, st) {
                    return None;
                }
                let r = rng.pick(&FREE32);
                let i = if w == 4 {
                    Instruction::with1(rng.pick(&[Code::Pop_r32, Code::Pop_rm32]), r)
                } else {
                    Instruction::with1(rng.pick(&[Code::Pop_r16, Code::Pop_rm16]), r16_of(r))
                };
                out.push(i.ok()?);
                st.esp += w;
            }
            6 => {
                // pop mem (an esp-based address uses esp after the pop)
                let w = if rng.chance(75) { 4 } else { 2 };
                if !room_pop(w, st) {
                    return None;
                }
                let mut m = Mem::plain(Self::rand_mem_off(rng, w));
                let after = GenState { esp: st.esp + w, nt: st.nt };
                let setup = self.fancy_mem(rng, &after, &mut m, &[], true, true);
                out.extend(setup);
                let code = if w == 4 { Code::Pop_rm32 } else { Code::Pop_rm16 };
                let i = Instruction::with1(code, m.op()).ok()?;
                if !self.no_skip && known_bug(&i).is_some() {
                    return None;
                }
                out.push(i);
                st.esp += w;
            }
            7 => {
                // pushf
                let (code, w) = rng.pick(&[(Code::Pushfd, 4u32), (Code::Pushfw, 2)]);
                if !room_push(w, st) {
                    return None;
                }
                out.push(Instruction::with(code));
                st.esp -= w;
            }
            8 => {
                // push a controlled value, popf it
                let w = if rng.chance(75) { 4 } else { 2 };
                if !room_push(w, st) {
                    return None;
                }
                let mut v = 0x202 | (rng.u32() & FLAGS_MASK);
                if rng.chance(20) {
                    v |= 1 << 21; // ID
                }
                if rng.chance(3) && self.no_skip {
                    // AC: misaligned accesses raise SIGBUS from here on.
                    // BUG-AC-EMU: instructions run by emulate.rs (16-bit
                    // string forms, enter with nesting...) do not check
                    // alignment, and one `enter 19h,0` with AC set raised
                    // #AC natively but not translated.
                    v |= 1 << 18;
                }
                if rng.chance(10) {
                    v |= 1 << 14; // NT
                    st.nt = true;
                }
                // Never TF: vx-core drops it (single-stepping translated
                // code is not supported), the CPU would trap.
                if w == 4 {
                    out.push(build(Code::Pushd_imm32, &[Arg::Imm(v)]));
                    out.push(Instruction::with(Code::Popfd));
                } else {
                    out.push(build(Code::Push_imm16, &[Arg::Imm(v & 0xffff)]));
                    out.push(Instruction::with(Code::Popfw));
                }
            }
            9 => {
                // pushad/popad (or the 16-bit pair) around another unit
                let wide = rng.chance(70);
                let n = if wide { 32 } else { 16 };
                if !room_push(n, st) {
                    return None;
                }
                out.push(Instruction::with(if wide { Code::Pushad } else { Code::Pushaw }));
                st.esp -= n;
                out.extend(self.inner_unit(rng, st, &[])?);
                out.push(Instruction::with(if wide { Code::Popad } else { Code::Popaw }));
                st.esp += n;
            }
            10 => {
                // enter/leave around another unit
                let frame = rng.range(0, 48) & !rng.pick(&[0u32, 3]);
                let set_ebp = rng.chance(50);
                let level = if set_ebp { rng.range(0, 3) } else { rng.range(0, 1) };
                let need = 4 + 4 * level + frame;
                if !room_push(need, st) {
                    return None;
                }
                if set_ebp {
                    let k = rng.range(0x100, 0x200) as i64 & !3;
                    out.push(Instruction::with2(Code::Lea_r32_m, Register::EBP, mem_ebx(k)).ok()?);
                }
                out.push(Instruction::with2(Code::Enterd_imm16_imm8, frame, level).ok()?);
                st.esp -= need;
                out.extend(self.inner_unit(rng, st, &[Register::EBP])?);
                out.push(Instruction::with(Code::Leaved));
                st.esp += need;
            }
            11 => {
                // 16-bit enter/leave (enter runs in emulate.rs); leave
                // sets esp from ebp, so ebp must already point at the
                // data page for its high half to be right
                let frame = rng.range(0, 48) & !rng.pick(&[0u32, 1]);
                let level = rng.range(0, 3);
                let need = 2 + 2 * level + frame;
                if !room_push(need, st) {
                    return None;
                }
                let k = rng.range(0x100, 0x200) as i64 & !1;
                out.push(Instruction::with2(Code::Lea_r32_m, Register::EBP, mem_ebx(k)).ok()?);
                out.push(Instruction::with2(Code::Enterw_imm16_imm8, frame, level).ok()?);
                st.esp -= need;
                out.extend(self.inner_unit(rng, st, &[Register::EBP])?);
                let leavew = Instruction::with(Code::Leavew);
                if self.no_skip || known_bug(&leavew).is_none() {
                    out.push(leavew);
                } else {
                    // the same effect without leavew: esp = ebp; pop bp
                    out.push(Instruction::with1(Code::Push_r32, Register::EBP).ok()?);
                    out.push(Instruction::with1(Code::Pop_r32, Register::ESP).ok()?);
                    out.push(Instruction::with1(Code::Pop_r16, Register::BP).ok()?);
                }
                st.esp += need;
            }
            12 => {
                // pop esp: esp takes the popped value (here a nearby one)
                let d = rng.range(0, 32) as i32 - 16;
                let new = st.esp as i32 + d;
                if !room_push(4, st) || new < ESP_MIN as i32 || new > ESP_MAX as i32 {
                    return None;
                }
                if rng.chance(30) {
                    out.push(Instruction::with1(Code::Push_r32, Register::ESP).ok()?);
                    out.push(Instruction::with1(rng.pick(&[Code::Pop_r32, Code::Pop_rm32]), Register::ESP).ok()?);
                } else {
                    let r = rng.pick(&FREE32);
                    let m = MemoryOperand::new(Register::ESP, Register::None, 1, d as i64, 1, false, Register::None);
                    out.push(Instruction::with2(Code::Lea_r32_m, r, m).ok()?);
                    out.push(Instruction::with1(Code::Push_r32, r).ok()?);
                    out.push(Instruction::with1(rng.pick(&[Code::Pop_r32, Code::Pop_rm32]), Register::ESP).ok()?);
                    st.esp = new as u32;
                }
            }
            _ => {
                // push then pop into another register: a move through memory
                if !room_push(4, st) {
                    return None;
                }
                out.push(Instruction::with1(Code::Push_r32, rng.pick(&R32)).ok()?);
                out.push(Instruction::with1(Code::Pop_r32, rng.pick(&FREE32)).ok()?);
            }
        }
        Some(out)
    }

    /// A table unit whose main instruction writes none of `keep`.
    fn inner_unit(&mut self, rng: &mut Rng, st: &GenState, keep: &[Register]) -> Option<Vec<Instruction>> {
        for _ in 0..50 {
            let cat = rng.below(4) as usize;
            let code = rng.pick(&self.table[cat]);
            if let Some(u) = self.table_unit(rng, st, code, false) {
                let writes_kept = u.iter().any(|i| {
                    let info = self.info.info(i);
                    info.used_registers().iter().any(|r| {
                        keep.contains(&r.register().full_register32())
                            && !matches!(r.access(), OpAccess::Read | OpAccess::CondRead)
                    })
                });
                if !writes_kept {
                    return Some(u);
                }
            }
        }
        None
    }

    /// A string instruction with esi/edi/ecx set up.
    fn string_unit(&mut self, rng: &mut Rng) -> Option<Vec<Instruction>> {
        let mut out = Vec::new();
        let kind = rng.below(5);
        let size = rng.pick(&[1u32, 2, 4]);
        let rep = match rng.below(10) {
            0..=3 => RepPrefixKind::None,
            4..=7 => RepPrefixKind::Repe,
            _ => RepPrefixKind::Repne,
        };
        let uses_src = matches!(kind, 0 | 1 | 3);
        let uses_dst = kind != 3;
        // 16-bit addressing (67 prefix): si, di and cx in the low page, the
        // registers' high halves left random (they must not count)
        let a16 = rng.chance(15);
        let (asz, area, si, di, cx) = if a16 {
            (16, LOW_BASE + 0x40, Register::SI, Register::DI, Register::CX)
        } else {
            (32, DATA_BASE + STR_LO, Register::ESI, Register::EDI, Register::ECX)
        };
        if uses_src {
            out.push(mov_imm(si, area + rng.range(0, 0x7f)));
        }
        if uses_dst {
            out.push(mov_imm(di, area + rng.range(0, 0x7f)));
        }
        if rep != RepPrefixKind::None || rng.chance(30) {
            out.push(mov_imm(cx, rng.range(0, 8)));
        }
        match rng.below(10) {
            0..=1 => out.push(Instruction::with(Code::Std)),
            2..=3 => out.push(Instruction::with(Code::Cld)),
            _ => {}
        }
        let i = match (kind, size) {
            (0, 1) => Instruction::with_movsb(asz, Register::None, rep),
            (0, 2) => Instruction::with_movsw(asz, Register::None, rep),
            (0, _) => Instruction::with_movsd(asz, Register::None, rep),
            (1, 1) => Instruction::with_cmpsb(asz, Register::None, rep),
            (1, 2) => Instruction::with_cmpsw(asz, Register::None, rep),
            (1, _) => Instruction::with_cmpsd(asz, Register::None, rep),
            (2, 1) => Instruction::with_stosb(asz, rep),
            (2, 2) => Instruction::with_stosw(asz, rep),
            (2, _) => Instruction::with_stosd(asz, rep),
            (3, 1) => Instruction::with_lodsb(asz, Register::None, rep),
            (3, 2) => Instruction::with_lodsw(asz, Register::None, rep),
            (3, _) => Instruction::with_lodsd(asz, Register::None, rep),
            (_, 1) => Instruction::with_scasb(asz, rep),
            (_, 2) => Instruction::with_scasw(asz, rep),
            (_, _) => Instruction::with_scasd(asz, rep),
        }
        .ok()?;
        if !self.no_skip && known_bug(&i).is_some() {
            return None;
        }
        out.push(i);
        Some(out)
    }

    /// One unit of any kind.
    fn unit(&mut self, rng: &mut Rng, st: &mut GenState) -> Option<Vec<Instruction>> {
        let w = rng.below(100);
        match w {
            0..=35 => {
                let c = rng.pick(&self.table[0]);
                self.table_unit(rng, st, c, false)
            }
            36..=49 => {
                let c = rng.pick(&self.table[1]);
                self.table_unit(rng, st, c, false)
            }
            50..=58 => {
                let c = rng.pick(&self.table[2]);
                self.table_unit(rng, st, c, false)
            }
            59..=82 => {
                let c = rng.pick(&self.table[3]);
                self.table_unit(rng, st, c, false)
            }
            83..=90 => self.stack_unit(rng, st),
            91..=98 => self.string_unit(rng),
            _ => {
                let i = Instruction::with(Code::Into);
                if !self.no_skip && known_bug(&i).is_some() {
                    return None;
                }
                Some(vec![i])
            }
        }
    }

    /// Generate case `index` of run `seed`.
    pub fn case(&mut self, seed: u64, index: u64) -> Case {
        let mut rng = Rng::for_case(seed, index);
        let mut st = GenState { esp: ESP0, nt: false };
        let fresh_fpu = rng.chance(20);
        // mostly short sequences; sometimes long ones that span several
        // translated blocks (at most 64 instructions each)
        let units = if rng.chance(3) { rng.range(20, 60) } else { rng.range(1, 8) };
        let mut insns: Vec<Instruction> = Vec::new();
        let mut tested = Vec::new();
        let mut code: Vec<u8> = Vec::new();
        for _ in 0..units {
            let mut tries = 0;
            let u = loop {
                tries += 1;
                let save = st.esp;
                if let Some(u) = self.unit(&mut rng, &mut st) {
                    if true {
                        break Some(u);
                    }
                }
                st.esp = save;
                if tries > 200 {
                    break None;
                }
            };
            let Some(u) = u else { continue };
            // encode the unit; stop if the code would get too long
            let mut bytes = Vec::new();
            let mut ok = true;
            for i in &u {
                let ip = CODE_BASE + (code.len() + bytes.len()) as u32;
                let mut enc = Encoder::new(32);
                match enc.encode(i, ip as u64) {
                    Ok(_) => bytes.extend(enc.take_buffer()),
                    Err(e) => panic!("cannot encode {i:?} ({:?}): {e}", i.code()),
                }
            }
            if code.len() + bytes.len() + 2 > CODE_MAX - 1 {
                ok = false;
            }
            if !ok {
                break;
            }
            code.extend(bytes);
            tested.push(u.last().unwrap().mnemonic());
            insns.extend(u);
        }

        // initial state
        let mut regs = [0u32; 8];
        for r in regs.iter_mut() {
            *r = rng.interesting32();
        }
        regs[3] = DATA_BASE;
        regs[4] = DATA_BASE + ESP0;
        let eflags = 0x202 | (rng.u32() & FLAGS_MASK);
        let mut data = vec![0u8; ALL_DATA];
        for c in data.chunks_mut(8) {
            c.copy_from_slice(&chunk8(&mut rng));
        }
        let mut fx = [0u8; 512];
        let fcw: u16 =
            if rng.chance(70) { 0x037f } else { 0x007f | (rng.below(4) as u16) << 8 | (rng.below(4) as u16) << 10 };
        let top = rng.below(8) as u16;
        let cc = (rng.u32() as u16) & 0x4700; // C0 C1 C2 C3
        let fsw = top << 11 | cc;
        let nvalid = rng.range(0, 8);
        let mut ftw = 0u8;
        for i in 0..nvalid {
            ftw |= 1 << ((top as u32 + i) % 8);
        }
        let mut mxcsr: u32 = if rng.chance(75) {
            0x1f80
        } else {
            0x1f80 | (rng.below(4) as u32) << 13 | if rng.chance(30) { 0x8040 } else { 0 }
        };
        let mut fcw = fcw;
        if rng.chance(4) {
            // some exceptions unmasked from the start: SIGFPE in both
            mxcsr &= !(rng.u32() & 0x1f80);
            fcw &= !(rng.u32() as u16 & 0x3f);
        }
        fx[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        if fresh_fpu {
            fx[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        } else {
            fx[0..2].copy_from_slice(&fcw.to_le_bytes());
            fx[2..4].copy_from_slice(&fsw.to_le_bytes());
            fx[4] = ftw;
        }
        for i in 0..8 {
            if fresh_fpu {
                break;
            }
            let v: [u8; 10] = match rng.below(10) {
                0..=5 => f64_to_ext(rng.double(), rng.next()),
                6 => [0; 10],
                7 => {
                    // an MMX value: exponent all ones, as MMX writes leave it
                    let mut b = [0xffu8; 10];
                    b[..8].copy_from_slice(&rng.next().to_le_bytes());
                    b
                }
                _ => {
                    let mut b = [0u8; 10];
                    b[..8].copy_from_slice(&rng.next().to_le_bytes());
                    b[8..].copy_from_slice(&(rng.u32() as u16).to_le_bytes());
                    b
                }
            };
            fx[32 + 16 * i..32 + 16 * i + 10].copy_from_slice(&v);
        }
        for i in 0..8 {
            for h in 0..2 {
                let o = 160 + 16 * i + 8 * h;
                fx[o..o + 8].copy_from_slice(&chunk8(&mut rng));
            }
        }
        Case { seed, index, code, tested, regs, eflags, data, fx, fresh_fpu }
    }
}

impl Default for Gen {
    fn default() -> Self {
        Gen::new()
    }
}

// ---------------------------------------------------------------------------
// Native runner
// ---------------------------------------------------------------------------

/// Build the native helper into `dir` (when missing or older than its
/// source). Err carries gcc's complaint.
pub fn build_native(dir: &Path) -> Result<PathBuf, String> {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/native.c"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = dir.join("vxf_native");
    let fresh = match (std::fs::metadata(&exe), std::fs::metadata(src)) {
        (Ok(a), Ok(b)) => match (a.modified(), b.modified()) {
            (Ok(a), Ok(b)) => a >= b,
            _ => false,
        },
        _ => false,
    };
    if fresh {
        return Ok(exe);
    }
    let tmp = dir.join(format!("vxf_native.{}", std::process::id()));
    let out = Command::new("gcc")
        .args(["-m32", "-O1", "-static", "-no-pie", "-Wall", "-o"])
        .arg(&tmp)
        .arg(src)
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if !out.status.success() {
        return Err(format!("gcc -m32 failed:\n{}", String::from_utf8_lossy(&out.stderr)));
    }
    std::fs::rename(&tmp, &exe).map_err(|e| format!("rename: {e}"))?;
    Ok(exe)
}

/// A running native helper.
pub struct Native {
    child: Child,
    stdin: std::io::BufWriter<ChildStdin>,
    stdout: ChildStdout,
}

impl Native {
    pub fn spawn(exe: &Path) -> Result<Native, String> {
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        let stdin = std::io::BufWriter::with_capacity(1 << 17, child.stdin.take().unwrap());
        let mut stdout = child.stdout.take().unwrap();
        let mut ready = [0u8; 4];
        if stdout.read_exact(&mut ready).is_err() || u32::from_le_bytes(ready) != MAGIC_READY {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{}: the native helper did not start (see its message above)", exe.display()));
        }
        Ok(Native { child, stdin, stdout })
    }

    fn send(&mut self, c: &Case) -> std::io::Result<()> {
        let mut rec = Vec::with_capacity(IN_SIZE);
        rec.extend(MAGIC_IN.to_le_bytes());
        rec.extend((c.code.len() as u32).to_le_bytes());
        let mut code = c.code.clone();
        code.resize(CODE_MAX, 0xcc);
        rec.extend(code);
        for r in c.regs {
            rec.extend(r.to_le_bytes());
        }
        rec.extend(c.eflags.to_le_bytes());
        rec.extend(&c.data);
        rec.extend(c.fx);
        debug_assert_eq!(rec.len(), IN_SIZE);
        self.stdin.write_all(&rec)
    }

    fn recv(&mut self, c: &Case) -> std::io::Result<Outcome> {
        let mut b = vec![0u8; OUT_SIZE];
        self.stdout.read_exact(&mut b)?;
        let u = |i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
        if u(0) != MAGIC_OUT {
            return Err(std::io::Error::other("bad record from native helper"));
        }
        let signo = u(1) as i32;
        let eip = u(3).wrapping_sub(CODE_BASE);
        let mut regs = [0u32; 8];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = u(6 + i);
        }
        let eflags = u(14);
        let data = b[60..60 + ALL_DATA].to_vec();
        let mut fx = [0u8; 512];
        fx.copy_from_slice(&b[60 + ALL_DATA..60 + ALL_DATA + 512]);
        let completed = signo == libc::SIGTRAP && eip == c.code.len() as u32 + 1;
        Ok(Outcome {
            signo: if completed { 0 } else { signo },
            eip: if completed { c.code.len() as u32 } else { eip },
            regs,
            eflags,
            data,
            fx,
            fx_valid: u(5) != 0,
            note: format!("si_code {} trapno {}", u(2) as i32, u(4)),
        })
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Translator runner
// ---------------------------------------------------------------------------

pub fn new_guest() -> Guest {
    let mut g = Guest::new().expect("Guest::new");
    g.map_anon(CODE_BASE, 4096, pf::READ | pf::WRITE | pf::EXEC).unwrap();
    g.map_anon(DATA_BASE, 4096, pf::READ | pf::WRITE).unwrap();
    g.map_anon(LOW_BASE, 4096, pf::READ | pf::WRITE).unwrap();
    g
}

/// Run a case under the translator.
pub fn run_vx(g: &mut Guest, c: &Case) -> Outcome {
    let mut code = c.code.clone();
    code.extend([0xcd, 0x80]);
    code.resize(4096, 0xcc);
    g.write(CODE_BASE, &code).unwrap();
    let mut page = c.data[..DATA_LEN].to_vec();
    page.resize(4096, 0);
    g.write(DATA_BASE, &page).unwrap();
    let mut page = c.data[DATA_LEN..].to_vec();
    page.resize(4096, 0);
    g.write(LOW_BASE, &page).unwrap();
    {
        let s = g.cpu_mut();
        s.regs = c.regs;
        s.eflags = c.eflags;
        s.eip = CODE_BASE;
    }
    let mut fx = c.fx;
    fx[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR_MASK
    if c.fresh_fpu {
        // as a new Guest: the x87 part in its initial state and not live
        let s = g.cpu_mut();
        s.fx.0 = fx;
        s.x87_live = 0;
    } else {
        g.fpu_mut().0 = fx;
    }
    let trap = g.run();
    let s = g.cpu();
    let eip = s.eip.wrapping_sub(CODE_BASE);
    let (signo, eip) = match trap {
        Trap::Syscall if eip == c.code.len() as u32 + 2 => (0, c.code.len() as u32),
        Trap::Syscall => (-1, eip),
        Trap::Preempted => (-2, eip),
        Trap::PageFault { .. } => (libc::SIGSEGV, eip),
        Trap::Signal { signo, .. } => (signo, eip),
    };
    let mut data = vec![0u8; ALL_DATA];
    g.read(DATA_BASE, &mut data[..DATA_LEN]).unwrap();
    g.read(LOW_BASE, &mut data[DATA_LEN..]).unwrap();
    Outcome { signo, eip, regs: s.regs, eflags: s.eflags, data, fx: s.fx.0, fx_valid: true, note: format!("{trap:?}") }
}

// ---------------------------------------------------------------------------
// Comparison and reports
// ---------------------------------------------------------------------------

fn ext_to_string(b: &[u8]) -> String {
    let m = u64::from_le_bytes(b[..8].try_into().unwrap());
    let se = u16::from_le_bytes(b[8..10].try_into().unwrap());
    let e = (se & 0x7fff) as i32;
    let sign = if se & 0x8000 != 0 { "-" } else { "" };
    let approx = if e == 0x7fff {
        if m << 1 == 0 {
            "inf".to_string()
        } else {
            "nan".to_string()
        }
    } else {
        let v = (m as f64) * 2f64.powi(e - 16383 - 63);
        format!("{v:e}")
    };
    format!("{se:04x}:{m:016x} ({sign}{approx})")
}

fn flag_names(f: u32) -> String {
    let mut s = String::new();
    for (bit, n) in [(0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (10, "DF"), (11, "OF")] {
        if f & (1 << bit) != 0 {
            s.push_str(n);
            s.push(' ');
        }
    }
    s.trim_end().to_string()
}

fn signame(s: i32) -> String {
    match s {
        0 => "completed".into(),
        -1 => "Syscall at an unexpected eip".into(),
        -2 => "Preempted".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGTRAP => "SIGTRAP".into(),
        n => format!("signal {n}"),
    }
}

/// The differences between the native (expected) and translated (got)
/// outcomes, one line each.
pub fn compare(n: &Outcome, v: &Outcome) -> Vec<String> {
    let mut d = Vec::new();
    if n.signo != v.signo {
        d.push(format!(
            "end: expected {} at +{:#x}, got {} at +{:#x} ({})",
            signame(n.signo),
            n.eip,
            signame(v.signo),
            v.eip,
            v.note
        ));
    } else if n.eip != v.eip {
        d.push(format!("eip: expected +{:#x}, got +{:#x} ({})", n.eip, v.eip, v.note));
    }
    for (name, (a, b)) in REG_NAMES.iter().zip(n.regs.iter().zip(&v.regs)) {
        if a != b {
            d.push(format!("{name}: expected {a:#010x}, got {b:#010x}"));
        }
    }
    let (fe, fg) = (n.eflags & FLAGS_MASK, v.eflags & FLAGS_MASK);
    if fe != fg {
        d.push(format!(
            "eflags: expected {:#06x} [{}], got {:#06x} [{}], differ [{}]",
            fe,
            flag_names(fe),
            fg,
            flag_names(fg),
            flag_names(fe ^ fg)
        ));
    }
    let mut i = 0;
    while i < ALL_DATA {
        if n.data[i] != v.data[i] {
            let s = i & !3;
            let e = (s + 4).min(ALL_DATA);
            let addr = if s < DATA_LEN { DATA_BASE as usize + s } else { LOW_BASE as usize + s - DATA_LEN };
            d.push(format!(
                "data[{:#05x}] (addr {:#x}): expected {}, got {}",
                s,
                addr,
                hex(&n.data[s..e]),
                hex(&v.data[s..e])
            ));
            i = e;
        } else {
            i += 1;
        }
    }
    if !n.fx_valid {
        d.push("native fxsave image missing: FPU state not compared".into());
        return d;
    }
    let (a, b) = (&n.fx, &v.fx);
    let u16at = |x: &[u8; 512], o: usize| u16::from_le_bytes([x[o], x[o + 1]]);
    if u16at(a, 0) != u16at(b, 0) {
        d.push(format!("fcw: expected {:#06x}, got {:#06x}", u16at(a, 0), u16at(b, 0)));
    }
    if u16at(a, 2) != u16at(b, 2) {
        d.push(format!(
            "fsw: expected {:#06x} (top {}), got {:#06x} (top {})",
            u16at(a, 2),
            (u16at(a, 2) >> 11) & 7,
            u16at(b, 2),
            (u16at(b, 2) >> 11) & 7
        ));
    }
    if a[4] != b[4] {
        d.push(format!("ftw: expected {:#04x}, got {:#04x}", a[4], b[4]));
    }
    let mx = |x: &[u8; 512]| u32::from_le_bytes(x[24..28].try_into().unwrap());
    if mx(a) != mx(b) {
        d.push(format!("mxcsr: expected {:#010x}, got {:#010x}", mx(a), mx(b)));
    }
    for i in 0..8 {
        let o = 32 + 16 * i;
        if a[o..o + 10] != b[o..o + 10] {
            d.push(format!(
                "st{i}/mm{i}: expected {}, got {}",
                ext_to_string(&a[o..o + 10]),
                ext_to_string(&b[o..o + 10])
            ));
        }
    }
    for i in 0..8 {
        let o = 160 + 16 * i;
        if a[o..o + 16] != b[o..o + 16] {
            d.push(format!("xmm{i}: expected {}, got {}", hex128(&a[o..o + 16]), hex128(&b[o..o + 16])));
        }
    }
    d
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

fn hex128(b: &[u8]) -> String {
    let lo = u64::from_le_bytes(b[..8].try_into().unwrap());
    let hi = u64::from_le_bytes(b[8..16].try_into().unwrap());
    format!("{hi:016x}_{lo:016x}")
}

/// Disassembly of a code sequence (Intel syntax), one instruction a line.
pub fn disasm(code: &[u8]) -> String {
    let mut dec = Decoder::with_ip(32, code, CODE_BASE as u64, DecoderOptions::NONE);
    let mut f = IntelFormatter::new();
    let mut out = String::new();
    let mut i = Instruction::default();
    while dec.can_decode() {
        dec.decode_out(&mut i);
        let mut text = String::new();
        f.format(&i, &mut text);
        let o = (i.ip() - CODE_BASE as u64) as usize;
        let bytes = hex(&code[o..o + i.len()]);
        let _ = writeln!(out, "  +{o:03x}  {bytes:<36} {text}");
    }
    out
}

/// The initial state of a case, for reports.
pub fn describe_state(c: &Case) -> String {
    let mut s = String::new();
    for (name, r) in REG_NAMES.iter().zip(&c.regs) {
        let _ = write!(s, "{name}={r:08x} ");
    }
    let fsw = u16::from_le_bytes([c.fx[2], c.fx[3]]);
    let _ = write!(
        s,
        "\n  eflags={:08x}{} fcw={:04x} fsw={:04x} ftw={:02x} mxcsr={:08x}",
        c.eflags,
        if c.fresh_fpu { " fresh-fpu" } else { "" },
        u16::from_le_bytes([c.fx[0], c.fx[1]]),
        fsw,
        c.fx[4],
        u32::from_le_bytes(c.fx[24..28].try_into().unwrap())
    );
    s
}

/// A full report of one mismatching case.
pub fn report(c: &Case, diffs: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "MISMATCH seed {} case {} (reproduce: cargo run --release -p vx-core --example fuzz -- --seed {} --case {})",
        c.seed, c.index, c.seed, c.index
    );
    let _ = writeln!(s, "code ({} bytes): {}", c.code.len(), hex(&c.code));
    s.push_str(&disasm(&c.code));
    let _ = writeln!(s, "initial: {}", describe_state(c));
    for d in diffs {
        let _ = writeln!(s, "  {d}");
    }
    s
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// Result of a run of many cases.
#[derive(Default)]
pub struct Summary {
    pub cases: u64,
    pub passed: u64,
    /// Cases that ran to completion natively (the rest ended in a signal).
    pub completed: u64,
    pub faulted: u64,
    /// Instructions under test, by mnemonic.
    pub tested: std::collections::BTreeMap<String, u64>,
    /// Native outcomes by signal (0: ran to the end).
    pub signals: std::collections::BTreeMap<i32, u64>,
    pub mismatches: Vec<String>,
    pub elapsed: Duration,
}

/// The fuzzer: generator, native helper and translator guest.
pub struct Fuzzer {
    pub gen: Gen,
    native: Native,
    guest: Guest,
}

impl Fuzzer {
    /// Build the native helper into `dir` and start it.
    pub fn new(dir: &Path) -> Result<Fuzzer, String> {
        let exe = build_native(dir)?;
        Ok(Fuzzer { gen: Gen::new(), native: Native::spawn(&exe)?, guest: new_guest() })
    }

    /// Run one case, returning (case, native, translated).
    pub fn one(&mut self, seed: u64, index: u64) -> (Case, Outcome, Outcome) {
        let c = self.gen.case(seed, index);
        self.native.send(&c).unwrap();
        self.native.stdin.flush().unwrap();
        let v = run_vx(&mut self.guest, &c);
        let n = self.native.recv(&c).expect("native helper died");
        (c, n, v)
    }

    /// Run cases `first..first+count` of `seed`; stop collecting reports
    /// after `max_reports` mismatches (counting continues). `progress` is
    /// called after every batch with the cases done so far.
    pub fn run(
        &mut self,
        seed: u64,
        first: u64,
        count: u64,
        max_reports: usize,
        mut progress: impl FnMut(&Summary),
    ) -> Summary {
        let t0 = Instant::now();
        let mut sum = Summary::default();
        let mut next = first;
        let end = first + count;
        while next < end {
            let n = ((end - next) as usize).min(BATCH);
            let batch: Vec<Case> = (0..n as u64).map(|i| self.gen.case(seed, next + i)).collect();
            next += n as u64;
            self.batch(&batch, &mut sum, max_reports);
            sum.elapsed = t0.elapsed();
            progress(&sum);
        }
        sum.elapsed = t0.elapsed();
        sum
    }

    /// Run the cases given (made by hand, not by the generator).
    pub fn check(&mut self, cases: &[Case], max_reports: usize) -> Summary {
        let t0 = Instant::now();
        let mut sum = Summary::default();
        for batch in cases.chunks(BATCH) {
            self.batch(batch, &mut sum, max_reports);
        }
        sum.elapsed = t0.elapsed();
        sum
    }

    /// Run `batch` natively and translated, and count it into `sum`.
    fn batch(&mut self, batch: &[Case], sum: &mut Summary, max_reports: usize) {
        for c in batch {
            self.native.send(c).expect("writing to the native helper");
        }
        self.native.stdin.flush().expect("writing to the native helper");
        let vx: Vec<Outcome> = batch.iter().map(|c| run_vx(&mut self.guest, c)).collect();
        for (c, v) in batch.iter().zip(&vx) {
            let nat = self.native.recv(c).expect("native helper died");
            sum.cases += 1;
            if nat.signo == 0 {
                sum.completed += 1;
            } else {
                sum.faulted += 1;
            }
            *sum.signals.entry(nat.signo).or_default() += 1;
            for m in &c.tested {
                *sum.tested.entry(format!("{m:?}")).or_default() += 1;
            }
            let diffs = compare(&nat, v);
            if diffs.is_empty() {
                sum.passed += 1;
            } else if sum.mismatches.len() < max_reports {
                sum.mismatches.push(report(c, &diffs));
            } else {
                sum.mismatches.push(String::new());
            }
        }
    }
}
