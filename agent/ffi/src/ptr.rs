//! Reading what C hands over: pointers that may be NULL, strings that may not
//! be UTF-8. Every `unsafe` read of a caller's pointer is here, so each
//! exported function states its contract once and reads through these.

use crate::result::AgentResult;
use agent::{FRAME_SAMPLES, Frame};
use std::ffi::{CStr, c_char};

/// `p` as a reference.
///
/// # Safety
/// `p` is NULL or points to a live `T` for the returned lifetime.
pub(crate) unsafe fn try_ref<'a, T>(p: *const T) -> Result<&'a T, AgentResult> {
    // SAFETY: the caller's contract; NULL is refused.
    unsafe { p.as_ref() }.ok_or(AgentResult::NullArgument)
}

/// `p` as a mutable reference.
///
/// # Safety
/// `p` is NULL or points to a live `T` no one else uses for the returned lifetime.
pub(crate) unsafe fn try_mut<'a, T>(p: *mut T) -> Result<&'a mut T, AgentResult> {
    // SAFETY: the caller's contract; NULL is refused.
    unsafe { p.as_mut() }.ok_or(AgentResult::NullArgument)
}

/// A NUL-terminated string as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string alive for the returned lifetime.
pub(crate) unsafe fn try_str<'a>(p: *const c_char) -> Result<&'a str, AgentResult> {
    if p.is_null() {
        return Err(AgentResult::NullArgument);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| AgentResult::InvalidArgument)
}

/// Hands a new object to C through `out` (set to NULL on failure).
///
/// # Safety
/// `out` is NULL or points to writable storage for a pointer.
pub(crate) unsafe fn give<T>(out: *mut *mut T, made: Result<T, AgentResult>) -> Result<(), AgentResult> {
    // SAFETY: the caller's contract.
    let out = unsafe { try_mut(out) }?;
    *out = std::ptr::null_mut();
    *out = Box::into_raw(Box::new(made?));
    Ok(())
}

/// Takes back and drops an object [`give`] handed out (NULL: nothing).
///
/// # Safety
/// `p` is NULL or came from [`give`] and is not used after this.
pub(crate) unsafe fn take<T>(p: *mut T) -> Option<Box<T>> {
    // SAFETY: made by Box::into_raw in `give`, released once by the caller's contract.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

/// A frame of audio from C: `samples` must be [`FRAME_SAMPLES`].
///
/// # Safety
/// `p` is NULL or points to `samples` readable samples alive for the returned lifetime.
pub(crate) unsafe fn try_frame<'a>(p: *const i16, samples: usize) -> Result<&'a Frame, AgentResult> {
    if samples != FRAME_SAMPLES {
        return Err(AgentResult::InvalidArgument);
    }
    // SAFETY: the caller's contract, with `samples` = the length of a Frame.
    unsafe { try_ref(p.cast::<Frame>()) }
}

/// A frame of audio for C to receive: `samples` must be [`FRAME_SAMPLES`].
///
/// # Safety
/// `p` is NULL or points to `samples` writable samples no one else uses for the returned lifetime.
pub(crate) unsafe fn try_frame_mut<'a>(p: *mut i16, samples: usize) -> Result<&'a mut Frame, AgentResult> {
    if samples != FRAME_SAMPLES {
        return Err(AgentResult::InvalidArgument);
    }
    // SAFETY: the caller's contract, with `samples` = the length of a Frame.
    unsafe { try_mut(p.cast::<Frame>()) }
}
