//! `AgentConfig`: what an agent is made with, set field by field from C and
//! turned into an [`agent::AgentBuilder`] by `agent_new`.

use crate::audio::{AgentAudioCapture, AgentAudioPlayout, AppCallbacks};
use crate::ptr::{give, take, try_mut, try_str};
use crate::result::{AgentResult, guard};
use agent::{AgentBuilder, BearerTransport, MediaOptions, PublicIpSource, PushParams, Source, SwitchAddr};
use std::ffi::{c_char, c_void};

/// The bearer (RTP) transport offered in calls.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentBearer {
    /// RTP over UDP (the default).
    Udp,
    /// RTP over TCP with RFC 4571 framing, connected out from the bearer port.
    Tcp,
}

/// What the calls send: a built-in source or the application's own audio.
#[derive(Debug, Clone)]
pub(crate) enum Audio {
    Builtin(Source),
    App(AppCallbacks),
    /// Pulled and pushed by the application (`agent_audio_pull`/`agent_audio_push`).
    Queue,
}

/// An agent's configuration (opaque): made by `agent_config_new`, set with
/// `agent_config_set_*`, used (copied) by `agent_new`, released by `agent_config_free`.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub(crate) switches: Vec<SwitchAddr>,
    pub(crate) number: String,
    pub(crate) password: String,
    pub(crate) domain: Option<String>,
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) public_ip: Option<PublicIpSource>,
    pub(crate) bearer: BearerTransport,
    pub(crate) bearer_port: Option<u16>,
    pub(crate) push: Option<PushParams>,
    pub(crate) audio: Audio,
}

impl AgentConfig {
    /// The builder `agent_new` starts from, and the calls' audio.
    pub(crate) fn builder(&self) -> Result<(AgentBuilder, Audio), AgentResult> {
        let (first, others) = self.switches.split_first().ok_or(AgentResult::Config)?;
        if self.number.is_empty() {
            return Err(AgentResult::Config);
        }
        let mut b = AgentBuilder::new(first.clone(), self.number.clone(), self.password.clone()).bearer_transport(self.bearer);
        for other in others {
            b = b.add_switch(other.clone());
        }
        if let Some(domain) = &self.domain {
            b = b.domain(domain.clone());
        }
        if let Some(pem) = &self.ca_pem {
            b = b.tls_ca_pem(pem.clone());
        }
        if let Some(source) = &self.public_ip {
            b = b.public_ip(source.clone());
        }
        if let Some(port) = self.bearer_port {
            b = b.bearer_port(port);
        }
        if let Some(push) = &self.push {
            b = b.push(push.clone());
        }
        if let Audio::Builtin(source) = &self.audio {
            b = b.media(MediaOptions { source: source.clone(), record: false });
        }
        Ok((b, self.audio.clone()))
    }
}

/// Applies `set` to the configuration behind `config`.
///
/// # Safety
/// `config` is NULL or a live `AgentConfig` not used by another thread meanwhile.
unsafe fn with(config: *mut AgentConfig, set: impl FnOnce(&mut AgentConfig) -> Result<(), AgentResult>) -> AgentResult {
    guard(|| {
        // SAFETY: the exported function's contract.
        let config = unsafe { try_mut(config) }?;
        set(config)
    })
}

/// A new, empty configuration in `*out` (silence for audio, UDP bearer,
/// public IP from the switch's Via).
///
/// # Safety
/// `out` points to writable storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_new(out: *mut *mut AgentConfig) -> AgentResult {
    let fresh = AgentConfig {
        switches: Vec::new(),
        number: String::new(),
        password: String::new(),
        domain: None,
        ca_pem: None,
        public_ip: None,
        bearer: BearerTransport::Udp,
        bearer_port: None,
        push: None,
        audio: Audio::Builtin(Source::Silence),
    };
    // SAFETY: the function's contract.
    guard(|| unsafe { give(out, Ok(fresh)) })
}

/// Releases a configuration (NULL: nothing). Agents made from it are unaffected.
///
/// # Safety
/// `config` is NULL or came from `agent_config_new` and is not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_free(config: *mut AgentConfig) {
    let _ = guard(|| {
        // SAFETY: the function's contract.
        drop(unsafe { take(config) });
        Ok(())
    });
}

/// Adds a switch address, `tcp:HOST[:PORT]` or `tls:HOST[:PORT]`. Several
/// are nodes of one cluster (`AgentBuilder::add_switch`): the agent registers
/// on the first that answers, in the order added, and moves to the next when
/// its flow dies. All must use one transport (else `agent_start` returns
/// `AGENT_RESULT_CONFIG`).
///
/// # Safety
/// `config` is a live configuration; `address` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_add_switch(config: *mut AgentConfig, address: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            let addr: SwitchAddr = try_str(address)?.parse().map_err(|_| AgentResult::InvalidArgument)?;
            c.switches.push(addr);
            Ok(())
        })
    }
}

/// Sets a text field from a C string.
///
/// # Safety
/// `config` is a live configuration; `value` a NUL-terminated string.
unsafe fn set_text(config: *mut AgentConfig, value: *const c_char, field: fn(&mut AgentConfig) -> &mut String) -> AgentResult {
    // SAFETY: the caller's contract.
    unsafe {
        with(config, |c| {
            *field(c) = try_str(value)?.to_owned();
            Ok(())
        })
    }
}

/// The number the agent registers (its SIP user).
///
/// # Safety
/// `config` is a live configuration; `number` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_number(config: *mut AgentConfig, number: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { set_text(config, number, |c| &mut c.number) }
}

/// The digest password of that number.
///
/// # Safety
/// `config` is a live configuration; `password` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_password(config: *mut AgentConfig, password: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe { set_text(config, password, |c| &mut c.password) }
}

/// The SIP domain (default: the switch's host).
///
/// # Safety
/// `config` is a live configuration; `domain` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_domain(config: *mut AgentConfig, domain: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.domain = Some(try_str(domain)?.to_owned());
            Ok(())
        })
    }
}

/// Registers for RFC 8599 push: `provider` (`pn-provider`: `apns`, `fcm`…),
/// `prid` (`pn-prid`: the device's token at that service) and `param`
/// (`pn-param`, NULL for none) go on the REGISTER's Contact. When a call comes
/// after the OS closed the flow, the switch has the operator's push gateway
/// wake the app, which then calls `agent_push_received`. Each value: 1 to
/// 1024 printable ASCII characters (`AGENT_RESULT_CONFIG` otherwise).
///
/// # Safety
/// `config` is a live configuration; `provider` and `prid` NUL-terminated
/// strings; `param` one or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_push(
    config: *mut AgentConfig,
    provider: *const c_char,
    prid: *const c_char,
    param: *const c_char,
) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            let param = if param.is_null() { None } else { Some(try_str(param)?.to_owned()) };
            let push = PushParams::new(try_str(provider)?, try_str(prid)?, param).map_err(|_| AgentResult::Config)?;
            c.push = Some(push);
            Ok(())
        })
    }
}

/// The PEM file of the CA a `tls:` switch's certificate must chain to (its
/// self-signed certificate itself will do). Read now.
///
/// # Safety
/// `config` is a live configuration; `path` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_tls_ca_file(config: *mut AgentConfig, path: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.ca_pem = Some(std::fs::read(try_str(path)?).map_err(|_| AgentResult::InvalidArgument)?);
            Ok(())
        })
    }
}

/// How the public IP is learned, as the CLI's `--public-ip` takes it: `via`,
/// `stun:HOST[:PORT]`, `http:URL[ PATTERN]`, `static:IP`.
///
/// # Safety
/// `config` is a live configuration; `strategy` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_public_ip(config: *mut AgentConfig, strategy: *const c_char) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.public_ip = Some(try_str(strategy)?.parse().map_err(|_| AgentResult::InvalidArgument)?);
            Ok(())
        })
    }
}

/// The bearer transport offered in calls.
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_bearer_transport(config: *mut AgentConfig, bearer: AgentBearer) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.bearer = match bearer {
                AgentBearer::Udp => BearerTransport::Udp,
                AgentBearer::Tcp => BearerTransport::Tcp,
            };
            Ok(())
        })
    }
}

/// The local bearer (RTP) port, advertised to the switch (default: an ephemeral port per call).
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_bearer_port(config: *mut AgentConfig, port: u16) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.bearer_port = (port != 0).then_some(port);
            Ok(())
        })
    }
}

/// Calls send a sine of `hz` (built-in audio).
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_tone(config: *mut AgentConfig, hz: f64) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            if !(hz.is_finite() && hz > 0.0 && hz < 4000.0) {
                return Err(AgentResult::InvalidArgument);
            }
            c.audio = Audio::Builtin(Source::Tone(hz));
            Ok(())
        })
    }
}

/// Calls send back what they receive (an echo test; built-in audio).
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_echo(config: *mut AgentConfig) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.audio = Audio::Builtin(Source::Echo);
            Ok(())
        })
    }
}

/// App-owned audio: the application keeps the sound device. Every 20 ms of
/// each call, `capture` is asked for the next frame to send and `playout`
/// is given the frame received: 160 samples, 8 kHz, 16-bit signed, mono; the
/// agent does the G.711 coding. Both run on a media thread of the agent's and
/// must not block nor call the agent; `user_data` is passed to both and must
/// stay valid while the agent lives. Either may be NULL (silence is sent;
/// what is received is dropped).
///
/// # Safety
/// `config` is a live configuration; the callbacks are safe to call from
/// another thread with `user_data` for as long as an agent made from this lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_app_audio(
    config: *mut AgentConfig,
    capture: AgentAudioCapture,
    playout: AgentAudioPlayout,
    user_data: *mut c_void,
) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.audio = Audio::App(AppCallbacks::new(capture, playout, user_data));
            Ok(())
        })
    }
}

/// App-owned audio, pulled and pushed: the application's own audio thread
/// pushes each 20 ms to send with `agent_audio_push` and pulls each 20 ms
/// received with `agent_audio_pull`, at its own pace (160 samples, 8 kHz,
/// 16-bit signed, mono; the agent does the G.711 coding). Up to 50 frames
/// (1 s) wait each way; beyond, the oldest go.
///
/// # Safety
/// `config` is a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn agent_config_set_app_audio_queue(config: *mut AgentConfig) -> AgentResult {
    // SAFETY: the function's contract.
    unsafe {
        with(config, |c| {
            c.audio = Audio::Queue;
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn push_parameters_reach_the_builder_and_bad_ones_are_refused() {
        let mut c: *mut AgentConfig = std::ptr::null_mut();
        // SAFETY: a configuration made here and freed at the end.
        unsafe {
            assert_eq!(agent_config_new(&mut c), AgentResult::Ok);
            assert_eq!(agent_config_add_switch(c, c"tcp:127.0.0.1:5060".as_ptr()), AgentResult::Ok);
            assert_eq!(agent_config_set_number(c, c"1001".as_ptr()), AgentResult::Ok);
            assert_eq!(agent_config_set_push(c, c"apns".as_ptr(), c"".as_ptr(), std::ptr::null()), AgentResult::Config);
            assert_eq!(agent_config_set_push(c, c"apns".as_ptr(), std::ptr::null(), std::ptr::null()), AgentResult::NullArgument);
            assert_eq!(
                agent_config_set_push(c, c"apns".as_ptr(), c"00fc13ad".as_ptr(), c"TEAM.org.example.voip".as_ptr()),
                AgentResult::Ok
            );
            let (b, _) = (*c).builder().unwrap();
            let push = b.config().push.clone().unwrap();
            assert_eq!(
                (push.provider.as_str(), push.prid.as_str(), push.param.as_deref()),
                ("apns", "00fc13ad", Some("TEAM.org.example.voip"))
            );
            agent_config_free(c);
        }
    }
}
