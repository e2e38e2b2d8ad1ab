//! [`UringError`]: why an `io_uring` could not be set up, worded for the operator.

use std::fmt;
use std::io;

/// Where Linux publishes the `kernel.io_uring_disabled` sysctl (6.6 and later).
const IO_URING_DISABLED_SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";

/// Why [`crate::Ring::new`] failed. Every message names the fix, including the portable
/// fallback (`io=portable`).
#[derive(Debug)]
#[non_exhaustive]
pub enum UringError {
    /// `io_uring_setup` failed with `EPERM` and `kernel.io_uring_disabled` is not 0.
    DisabledBySysctl {
        /// The sysctl's value: 1 allows only `kernel.io_uring_group` and privileged processes,
        /// 2 disables `io_uring` for everyone.
        value: u32,
    },
    /// `io_uring_setup` failed with `EPERM` although the sysctl allows it: almost always a
    /// seccomp filter (container runtimes' default profiles block `io_uring`).
    BlockedBySeccomp,
    /// `io_uring_setup` failed with `ENOSYS`: the kernel was built without `io_uring`.
    NotSupported,
    /// The kernel's `io_uring` lacks opcodes ringlog needs.
    MissingOpcodes {
        /// The missing opcodes' names, e.g. `"Fsync"`.
        names: Vec<&'static str>,
    },
    /// Any other failure of `io_uring_setup` or of the opcode probe.
    Setup(io::Error),
}

impl UringError {
    /// Classifies an error of `io_uring_setup(2)`.
    pub(crate) fn from_setup(err: io::Error) -> UringError {
        match err.raw_os_error() {
            Some(libc::EPERM) => match read_io_uring_disabled() {
                Some(value) if value != 0 => UringError::DisabledBySysctl { value },
                _ => UringError::BlockedBySeccomp,
            },
            Some(libc::ENOSYS) => UringError::NotSupported,
            _ => UringError::Setup(err),
        }
    }
}

/// The value of `kernel.io_uring_disabled`, or `None` if the kernel has no such sysctl.
fn read_io_uring_disabled() -> Option<u32> {
    std::fs::read_to_string(IO_URING_DISABLED_SYSCTL)
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl fmt::Display for UringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UringError::DisabledBySysctl { value } => {
                write!(
                    f,
                    "io_uring is disabled by kernel.io_uring_disabled={value}"
                )?;
                if *value == 1 {
                    write!(
                        f,
                        " (only root and members of kernel.io_uring_group may use it)"
                    )?;
                }
                write!(
                    f,
                    "; set it to 0 (sysctl -w kernel.io_uring_disabled=0) or use the portable \
                     I/O path (io=portable)"
                )
            }
            UringError::BlockedBySeccomp => write!(
                f,
                "io_uring_setup was refused with EPERM by a seccomp filter (container \
                 runtimes' default profiles block io_uring; see the Seccomp line of \
                 /proc/self/status); allow io_uring_setup/io_uring_enter/io_uring_register in \
                 the profile or use io=portable"
            ),
            UringError::NotSupported => write!(
                f,
                "this kernel has no io_uring (io_uring_setup returned ENOSYS: built without \
                 CONFIG_IO_URING); use a kernel with io_uring or use io=portable"
            ),
            UringError::MissingOpcodes { names } => write!(
                f,
                "this kernel's io_uring lacks the opcodes {}; ringlog needs Linux 5.6 or newer \
                 for them; upgrade the kernel or use io=portable",
                names.join(", ")
            ),
            UringError::Setup(err) => write!(
                f,
                "io_uring_setup failed: {err} (on kernels before 5.12, ENOMEM usually means \
                 RLIMIT_MEMLOCK is too low); fix the cause or use io=portable"
            ),
        }
    }
}

impl std::error::Error for UringError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UringError::Setup(err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_message_names_the_sysctl_and_the_fix() {
        let text = UringError::DisabledBySysctl { value: 2 }.to_string();
        assert_eq!(
            text,
            "io_uring is disabled by kernel.io_uring_disabled=2; set it to 0 (sysctl -w \
             kernel.io_uring_disabled=0) or use the portable I/O path (io=portable)"
        );
        let text = UringError::DisabledBySysctl { value: 1 }.to_string();
        assert!(text.contains("kernel.io_uring_group"), "{text}");
    }

    #[test]
    fn seccomp_message_names_seccomp_and_the_syscalls() {
        let text = UringError::BlockedBySeccomp.to_string();
        for needle in [
            "seccomp",
            "/proc/self/status",
            "io_uring_enter",
            "io=portable",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn other_messages_offer_the_portable_path() {
        let errors = [
            UringError::NotSupported,
            UringError::MissingOpcodes {
                names: vec!["Read", "Fsync"],
            },
            UringError::Setup(io::Error::from_raw_os_error(libc::ENOMEM)),
        ];
        for err in errors {
            assert!(err.to_string().contains("io=portable"), "{err}");
        }
        let text = UringError::MissingOpcodes {
            names: vec!["Read", "Fsync"],
        }
        .to_string();
        assert!(text.contains("Read, Fsync"), "{text}");
    }

    #[test]
    fn setup_errors_are_classified_by_errno() {
        let err = UringError::from_setup(io::Error::from_raw_os_error(libc::ENOSYS));
        assert!(matches!(err, UringError::NotSupported));
        let err = UringError::from_setup(io::Error::from_raw_os_error(libc::EPERM));
        assert!(matches!(
            err,
            UringError::DisabledBySysctl { .. } | UringError::BlockedBySeccomp
        ));
        let err = UringError::from_setup(io::Error::from_raw_os_error(libc::EINVAL));
        assert!(matches!(err, UringError::Setup(_)));
    }
}
