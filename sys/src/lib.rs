//! The thin, documented `unsafe` layer of ringlog over the Linux kernel.
//!
//! Every `unsafe` block and every raw `libc` call of the workspace lives in this crate, so the
//! engine can be `#![forbid(unsafe_code)]`. The modules:
//!
//! - [`buf`]: [`AlignedBuf`], an owned, aligned, always initialized byte buffer for direct I/O.
//! - [`direct`]: opening files with `O_DIRECT`, asking `statx` for the alignment it needs, and
//!   probing whether a directory supports it at all.
//! - [`file`](mod@file): `fallocate`, `fdatasync` and directory `fsync`.
//! - [`mmap`]: shared file mappings with one writer appending above a published length and
//!   readers taking zero-copy [`bytes::Bytes`] below it.
//! - [`seccomp`]: a filter that blocks `io_uring` in this process, for tests of the fallback.
//! - [`uring`]: [`Ring`], an `io_uring` shared by many threads, whose types make it impossible in
//!   safe code to free or reuse a buffer the kernel may still touch.
//!
//! errno is turned into [`std::io::Error`] in one place (`errno::cvt`), which also retries
//! `EINTR`.

#[cfg(not(target_os = "linux"))]
compile_error!("ringlog-sys supports Linux only: it wraps io_uring, O_DIRECT, statx and fallocate");

pub mod alloc_count;
pub mod buf;
pub mod direct;
mod errno;
pub mod file;
pub mod mmap;
pub mod seccomp;
pub mod uring;

pub use buf::AlignedBuf;
pub use uring::{IoBuf, Ring, SyncKind, Ticket, UringError};
