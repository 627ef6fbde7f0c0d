//! `agent call` and the call side of `agent listen`: media options from the
//! flags, the call's life on the event stream, the recording and the tone in it.

use crate::args::MediaArgs;
use crate::output;
use agent::{AgentHandle, CallEvent, CallId, Event, Events, MediaEvent, MediaOptions, MediaReport, Source, StatusCode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// A call was not answered (busy, refused, cancelled, no answer).
pub(crate) const EXIT_NOT_ANSWERED: u8 = 7;
/// Answered, but no RTP came back.
pub(crate) const EXIT_NO_MEDIA: u8 = 8;
/// After asking to hang up, how long the BYE/CANCEL may take before we stop anyway.
const HANGUP_GRACE: Duration = Duration::from_secs(10);
/// Tone search grid: 100 Hz to 3400 Hz (the telephone band) in 10 Hz steps.
const TONE_GRID: (u32, u32, u32) = (100, 3400, 10);

/// The media options of the flags (reads the WAV to play).
pub(crate) fn options(m: &MediaArgs) -> anyhow::Result<MediaOptions> {
    let source = if let Some(path) = &m.play {
        let samples = media::wav::read_wav(path).map_err(|e| anyhow::anyhow!("--play {}: {e}", path.display()))?;
        Source::Samples(samples.into())
    } else if let Some(hz) = m.tone {
        Source::Tone(hz)
    } else if m.echo {
        Source::Echo
    } else {
        Source::Silence
    };
    Ok(MediaOptions { source, record: m.record.is_some() })
}

/// What the command line keeps of each call's media until the call's end is printed.
#[derive(Default)]
pub(crate) struct Calls {
    reports: HashMap<CallId, MediaReport>,
    record: Option<PathBuf>,
}

impl Calls {
    pub(crate) fn new(record: Option<PathBuf>) -> Self {
        Self { reports: HashMap::new(), record }
    }

    /// Prints `ev`; for a call's end, with its media counts, and writes the
    /// recording and its tone. Returns the report of an ended call.
    pub(crate) fn print(&mut self, ev: &Event) -> Option<MediaReport> {
        match ev {
            Event::Media(MediaEvent::Stopped { id, report }) => {
                self.reports.insert(*id, report.clone());
                println!("{}", output::line(ev));
                None
            }
            Event::Call(CallEvent::Ended { id, .. }) => {
                let report = self.reports.remove(id).unwrap_or_default();
                println!("{} sent={} received={}", output::line(ev), report.sent_packets, report.received_packets);
                if let Some(path) = &self.record {
                    save(path, &report);
                }
                Some(report)
            }
            _ => {
                println!("{}", output::line(ev));
                None
            }
        }
    }
}

/// Writes the recording and prints the strongest tone in it.
fn save(path: &Path, report: &MediaReport) {
    match media::wav::write_wav(path, &report.recorded) {
        Ok(()) => println!("recorded file={:?} samples={}", path.display().to_string(), report.recorded.len()),
        Err(e) => eprintln!("agent: --record {}: {e}", path.display()),
    }
    println!("{}", tone_line(&report.recorded));
}

/// `tone hz=F power=P share=S` for the strongest tone of the telephone band, or `tone hz=-`.
pub(crate) fn tone_line(samples: &[i16]) -> String {
    let (lo, hi, step) = TONE_GRID;
    let grid: Vec<f64> = (lo..=hi).step_by(step as usize).map(f64::from).collect();
    let rate = media::tone::RATE;
    match media::tone::dominant(samples, &grid, rate) {
        Some(hz) => {
            let power = media::tone::goertzel_power(samples, hz, rate);
            let total = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / samples.len().max(1) as f64;
            format!("tone hz={hz} power={power:.0} share={:.2}", power / total.max(1.0))
        }
        None => "tone hz=-".to_owned(),
    }
}

/// What `agent call` does.
pub(crate) struct CallPlan {
    pub(crate) number: String,
    pub(crate) options: MediaOptions,
    pub(crate) record: Option<PathBuf>,
    /// How long to stay once answered.
    pub(crate) duration: Duration,
    pub(crate) dtmf: Option<String>,
    /// How long to wait for the answer.
    pub(crate) answer_timeout: Duration,
}

/// Places the call, keeps it up for `duration` once answered, hangs up;
/// returns the exit status.
pub(crate) async fn call(handle: &AgentHandle, events: &mut Events, plan: CallPlan) -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let CallPlan { number, options, record, duration, dtmf, answer_timeout } = plan;
    let mut printer = Calls::new(record);
    let id = handle.call_with(&number, options).await?;
    let mut deadline = Instant::now() + answer_timeout;
    let mut hanging_up = false;
    let mut answered = false;
    loop {
        let ev = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => None,
            _ = term.recv() => None,
            _ = int.recv() => None,
            ev = events.recv() => match ev {
                Some(ev) => Some(ev),
                None => return Ok(1),
            },
        };
        let Some(ev) = ev else {
            if hanging_up {
                eprintln!("agent: the call did not end within {HANGUP_GRACE:?} of hanging up");
                return Ok(1);
            }
            hanging_up = true;
            deadline = Instant::now() + HANGUP_GRACE;
            if let Err(e) = handle.hangup(id).await {
                eprintln!("agent: hang-up: {e}");
            }
            continue;
        };
        let ended = printer.print(&ev);
        match ev {
            Event::Call(CallEvent::Answered { id: i, .. }) if i == id => {
                answered = true;
                deadline = Instant::now() + duration;
                if let Some(d) = &dtmf
                    && let Err(e) = handle.send_dtmf(id, d).await
                {
                    eprintln!("agent: dtmf: {e}");
                }
            }
            Event::Call(CallEvent::Ended { id: i, .. }) if i == id => {
                let received = ended.map_or(0, |r| r.received_packets);
                let code = match (answered, received) {
                    (false, _) => EXIT_NOT_ANSWERED,
                    (true, 0) => EXIT_NO_MEDIA,
                    (true, _) => 0,
                };
                return Ok(code);
            }
            Event::Call(CallEvent::Incoming { id: other, .. }) => refuse(handle, other, StatusCode::TEMPORARILY_UNAVAILABLE).await,
            _ => {}
        }
    }
}

/// The command line takes no calls unless told to: it says so at once
/// (480 unless `listen --reject-with`), so the switch can send the call home
/// instead of waiting.
pub(crate) async fn refuse(handle: &AgentHandle, id: CallId, status: StatusCode) {
    if let Err(e) = handle.reject(id, status).await {
        tracing::warn!(error = %e, "reject not sent");
    }
}

/// How `agent listen` treats incoming calls.
pub(crate) struct ListenPlan {
    pub(crate) auto_answer: bool,
    /// How long an auto-answered call rings first.
    pub(crate) answer_after: Duration,
    /// The status of refused calls.
    pub(crate) reject_with: StatusCode,
}

/// Auto-answers waiting for their ring time, in order of due time.
#[derive(Default)]
pub(crate) struct Ringing(Vec<(Instant, CallId)>);

impl Ringing {
    pub(crate) fn add(&mut self, at: Instant, id: CallId) {
        self.0.push((at, id));
        self.0.sort_by_key(|(t, _)| *t);
    }

    pub(crate) fn remove(&mut self, id: CallId) {
        self.0.retain(|(_, i)| *i != id);
    }

    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.0.first().map(|(t, _)| *t)
    }

    /// The calls whose ring time is over.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<CallId> {
        let split = self.0.partition_point(|(t, _)| *t <= now);
        self.0.drain(..split).map(|(_, id)| id).collect()
    }
}

/// Sleeps until `at`, or forever.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
