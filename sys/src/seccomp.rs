//! [`deny_io_uring`]: a seccomp filter that blocks `io_uring` in this process, as container
//! runtimes' default profiles do, so tests can prove the portable fallback.
//!
//! The filter is a classic BPF program run by the kernel on every system call:
//!
//! ```text
//!       ld  [arch]                        seccomp_data.arch (offset 4)
//!       jeq #AUDIT_ARCH_<target>, native  x86_64 or aarch64, chosen with cfg
//!       ret #ERRNO(EPERM)                 foreign ABI (e.g. 32-bit int 0x80): refuse all
//! native:
//!       ld  [nr]                          seccomp_data.nr (offset 0)
//!       and #~__X32_SYSCALL_BIT           x86_64 only: x32 numbers map onto native ones
//!       jeq #io_uring_setup, deny
//!       jeq #io_uring_enter, deny
//!       jeq #io_uring_register, deny
//!       ret #ALLOW
//! deny: ret #ERRNO(EPERM)
//! ```
//!
//! Foreign-ABI calls are refused rather than allowed, since the same `io_uring_*` calls exist
//! there under other numbers; a Rust test process makes none.

use std::io;
use std::mem::offset_of;

use libc::{seccomp_data, sock_filter, sock_fprog};

use crate::errno::cvt;

/// `AUDIT_ARCH_X86_64` of `<linux/audit.h>`: `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_NATIVE: u32 = 0x3E | 0x8000_0000 | 0x4000_0000;
/// `AUDIT_ARCH_AARCH64` of `<linux/audit.h>`: `EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_NATIVE: u32 = 0xB7 | 0x8000_0000 | 0x4000_0000;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("ringlog_sys::seccomp supports x86_64 and aarch64 only");

/// `__X32_SYSCALL_BIT`: x32 system calls arrive with the x86_64 audit arch and this bit set.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The system calls the filter refuses.
const DENIED_SYSCALLS: [libc::c_long; 3] = [
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
];

/// The filter's verdict for a refused call: fail with `EPERM`, as Docker's default profile does.
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

/// Installs a seccomp filter on every thread of the process (the calling thread, the threads
/// that exist, and threads created later) that makes `io_uring_setup`, `io_uring_enter` and
/// `io_uring_register` fail with `EPERM`, as container runtimes' default profiles do.
///
/// Sets `PR_SET_NO_NEW_PRIVS` first (needed to install a filter without `CAP_SYS_ADMIN`), and
/// installs the filter with `SECCOMP_FILTER_FLAG_TSYNC`, since a filter installed without it
/// covers only the calling thread and the threads it creates afterwards.
///
/// Irreversible: meant for a child test process, never for a process that needs `io_uring`.
///
/// # Errors
///
/// What `prctl(2)` or `seccomp(2)` return; `Other` naming the thread if another thread of the
/// process could not be synchronized (it already has an unrelated filter).
pub fn deny_io_uring() -> io::Result<()> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only and touches no memory.
    cvt(|| unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) })?;
    let mut program = filter_program();
    let prog = sock_fprog {
        len: u16::try_from(program.len()).expect("the filter has fewer than 65536 instructions"),
        filter: program.as_mut_ptr(),
    };
    let ret = cvt(|| {
        // SAFETY: `prog` points to `program.len()` initialized instructions, both alive for
        // the call; the kernel copies the program before returning and validates it.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_TSYNC,
                &raw const prog,
            )
        }
    })?;
    if ret != 0 {
        // With TSYNC, a positive return is the id of a thread that could not take the filter.
        return Err(io::Error::other(format!(
            "seccomp: thread {ret} of this process could not be synchronized to the filter"
        )));
    }
    Ok(())
}

/// A BPF statement (`BPF_STMT` of `<linux/filter.h>`).
const fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A BPF conditional jump (`BPF_JUMP`): skip `jt` instructions if true, `jf` if false.
const fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The filter of the module docs.
fn filter_program() -> Vec<sock_filter> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let load = |offset: usize| stmt(BPF_LD | BPF_W | BPF_ABS, offset as u32);
    let mut program = vec![
        load(offset_of!(seccomp_data, arch)),
        jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0),
        stmt(BPF_RET | BPF_K, RET_EPERM),
        load(offset_of!(seccomp_data, nr)),
    ];
    #[cfg(target_arch = "x86_64")]
    program.push(stmt(
        libc::BPF_ALU | libc::BPF_AND | BPF_K,
        !X32_SYSCALL_BIT,
    ));
    let denied = DENIED_SYSCALLS.len();
    for (index, nr) in DENIED_SYSCALLS.into_iter().enumerate() {
        // Jump over the remaining checks and the ALLOW to the final EPERM.
        let to_deny = (denied - index) as u8;
        program.push(jump(BPF_JMP | BPF_JEQ | BPF_K, nr as u32, to_deny, 0));
    }
    program.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW));
    program.push(stmt(BPF_RET | BPF_K, RET_EPERM));
    program
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::c_uint;
    use std::mem::size_of;

    /// The seccomp action of a filter verdict (`SECCOMP_RET_ACTION_FULL` bits).
    const fn action(verdict: u32) -> c_uint {
        verdict & libc::SECCOMP_RET_ACTION_FULL
    }

    /// Runs `program` on a `seccomp_data` with `arch` and `nr`, for the instructions the
    /// filter uses (a tiny classic-BPF interpreter), and returns the verdict.
    fn run(program: &[sock_filter], arch: u32, nr: u32) -> u32 {
        use libc::{BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let insn = program[pc];
            pc += 1;
            match u32::from(insn.code) {
                c if c == BPF_LD | BPF_W | BPF_ABS => {
                    acc = match insn.k as usize {
                        k if k == offset_of!(seccomp_data, nr) => nr,
                        k if k == offset_of!(seccomp_data, arch) => arch,
                        k => panic!("load of seccomp_data offset {k}"),
                    };
                }
                c if c == BPF_ALU | BPF_AND | BPF_K => acc &= insn.k,
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    pc += usize::from(if acc == insn.k { insn.jt } else { insn.jf });
                }
                c if c == BPF_RET | BPF_K => return insn.k,
                c => panic!("instruction {c:#x} at {} is not interpreted", pc - 1),
            }
        }
    }

    #[test]
    fn denies_io_uring_and_allows_the_rest() {
        let program = filter_program();
        for nr in DENIED_SYSCALLS {
            assert_eq!(
                run(&program, AUDIT_ARCH_NATIVE, nr as u32),
                RET_EPERM,
                "{nr}"
            );
        }
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_mmap,
            libc::SYS_futex,
        ] {
            let verdict = run(&program, AUDIT_ARCH_NATIVE, nr as u32);
            assert_eq!(action(verdict), libc::SECCOMP_RET_ALLOW, "{nr}");
        }
        assert_eq!(action(RET_EPERM), libc::SECCOMP_RET_ERRNO);
        assert_eq!(RET_EPERM & libc::SECCOMP_RET_DATA, libc::EPERM as u32);
    }

    #[test]
    fn refuses_foreign_abis() {
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        let program = filter_program();
        assert_eq!(run(&program, AUDIT_ARCH_I386, 3), RET_EPERM);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn denies_x32_numbers_too() {
        let program = filter_program();
        let x32_setup = X32_SYSCALL_BIT | libc::SYS_io_uring_setup as u32;
        assert_eq!(run(&program, AUDIT_ARCH_NATIVE, x32_setup), RET_EPERM);
        let x32_read = X32_SYSCALL_BIT | libc::SYS_read as u32;
        assert_eq!(
            run(&program, AUDIT_ARCH_NATIVE, x32_read),
            libc::SECCOMP_RET_ALLOW
        );
    }

    /// libc's mirrors of `struct sock_filter`, `struct sock_fprog` and `struct seccomp_data`
    /// (`<linux/filter.h>`, `<linux/seccomp.h>`) have the kernel's layout.
    #[test]
    fn kernel_struct_layouts() {
        assert_eq!(size_of::<sock_filter>(), 8);
        assert_eq!(offset_of!(sock_filter, code), 0);
        assert_eq!(offset_of!(sock_filter, jt), 2);
        assert_eq!(offset_of!(sock_filter, jf), 3);
        assert_eq!(offset_of!(sock_filter, k), 4);
        assert_eq!(size_of::<sock_fprog>(), 2 * size_of::<usize>());
        assert_eq!(offset_of!(sock_fprog, len), 0);
        assert_eq!(offset_of!(sock_fprog, filter), size_of::<usize>());
        assert_eq!(size_of::<seccomp_data>(), 64);
        assert_eq!(offset_of!(seccomp_data, nr), 0);
        assert_eq!(offset_of!(seccomp_data, arch), 4);
        assert_eq!(offset_of!(seccomp_data, instruction_pointer), 8);
        assert_eq!(offset_of!(seccomp_data, args), 16);
    }
}
