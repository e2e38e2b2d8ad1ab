//! The one place where a raw libc return value becomes an [`io::Error`].

use std::io;

/// Runs `call` until it does not fail with `EINTR`, and maps a `-1` return to the `errno` it
/// left behind.
///
/// Every raw libc call of this crate goes through here, so `EINTR` is retried in exactly one
/// place and no caller forgets to read `errno` right after the call.
pub(crate) fn cvt<T, F>(mut call: F) -> io::Result<T>
where
    T: Copy + PartialEq + From<i8>,
    F: FnMut() -> T,
{
    loop {
        let ret = call();
        if ret != T::from(-1) {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cvt;

    #[test]
    fn maps_minus_one_to_errno() {
        // SAFETY: `close` on a descriptor number that is certainly not open only sets errno.
        let err = cvt(|| unsafe { libc::close(-5) }).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }

    #[test]
    fn retries_eintr() {
        let mut calls = 0;
        let ret = cvt(|| {
            calls += 1;
            if calls < 3 {
                // SAFETY: `__errno_location` returns this thread's errno slot, valid for writes.
                unsafe { *libc::__errno_location() = libc::EINTR };
                -1
            } else {
                7
            }
        })
        .unwrap();
        assert_eq!((ret, calls), (7, 3));
    }
}
