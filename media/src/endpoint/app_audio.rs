//! App-owned audio: the application keeps its sound device (iOS CallKit,
//! Android AAudio, a desktop's own mixer) and trades 20 ms PCM frames with the
//! endpoint, which keeps the codec work (G.711) and the RTP pacing.
//!
//! The endpoint asks for a frame to send at each 20 ms slot and hands over
//! each 20 ms received, through [`AppAudio`]: an application that wants to be
//! called implements it; one that would rather pull and push from its own
//! audio thread uses [`FrameQueue`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

/// Samples in one frame: 20 ms at 8 kHz, 16-bit signed, mono.
pub const FRAME_SAMPLES: usize = 160;
/// One frame of PCM.
pub type Frame = [i16; FRAME_SAMPLES];

/// The application's side of a call's audio. Both methods are called on the
/// endpoint's task (a runtime thread, not the application's): they must
/// return quickly and never block on the agent.
pub trait AppAudio: Send + Sync + fmt::Debug {
    /// The next 20 ms to send. `frame` comes zeroed: left as it is, the
    /// endpoint sends silence (which still keeps the NAT leg open).
    fn capture(&self, frame: &mut Frame);
    /// 20 ms received from the peer, decoded.
    fn playout(&self, frame: &Frame);
}

/// Frames queued each way, at most this many (1 s): a side that falls behind
/// loses the oldest, since late audio is worth less than current audio.
pub const QUEUE_FRAMES: usize = 50;

/// Pull/push app audio: the application pushes what it captured with
/// [`FrameQueue::push_capture`] and pulls what to play with
/// [`FrameQueue::pull_playout`], at its own pace, from any thread.
#[derive(Debug, Default)]
pub struct FrameQueue {
    queues: Mutex<Queues>,
}

#[derive(Debug, Default)]
struct Queues {
    capture: VecDeque<Frame>,
    playout: VecDeque<Frame>,
}

fn push_bounded(queue: &mut VecDeque<Frame>, frame: Frame) {
    if queue.len() >= QUEUE_FRAMES {
        queue.pop_front();
    }
    queue.push_back(frame);
}

impl FrameQueue {
    /// An empty queue each way.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Queues) -> T) -> T {
        // A panic elsewhere while the lock was held leaves whole frames only.
        let mut q = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut q)
    }

    /// Queues 20 ms to send (the oldest waiting frame goes if [`QUEUE_FRAMES`] wait).
    pub fn push_capture(&self, frame: Frame) {
        self.with(|q| push_bounded(&mut q.capture, frame));
    }

    /// The oldest 20 ms received and not yet played, if any.
    pub fn pull_playout(&self) -> Option<Frame> {
        self.with(|q| q.playout.pop_front())
    }
}

impl AppAudio for FrameQueue {
    fn capture(&self, frame: &mut Frame) {
        if let Some(next) = self.with(|q| q.capture.pop_front()) {
            *frame = next;
        }
    }

    fn playout(&self, frame: &Frame) {
        self.with(|q| push_bounded(&mut q.playout, *frame));
    }
}

/// Cuts decoded audio of any packet size into whole frames for [`AppAudio::playout`].
#[derive(Debug, Default)]
pub(crate) struct Reframer {
    frame: Vec<i16>,
}

impl Reframer {
    pub(crate) fn push(&mut self, sample: i16, to: &dyn AppAudio) {
        self.frame.push(sample);
        if let Ok(frame) = <&Frame>::try_from(self.frame.as_slice()) {
            to.playout(frame);
            self.frame.clear();
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_keeps_the_newest_second_each_way() {
        let q = FrameQueue::new();
        for i in 0..(QUEUE_FRAMES + 3) {
            q.push_capture([i as i16; FRAME_SAMPLES]);
            q.playout(&[i as i16; FRAME_SAMPLES]);
        }
        let mut frame = [0; FRAME_SAMPLES];
        q.capture(&mut frame);
        assert_eq!(frame[0], 3, "the three oldest captured frames were dropped");
        assert_eq!(q.pull_playout().map(|f| f[0]), Some(3));
        let empty = FrameQueue::new();
        let mut untouched = [7; FRAME_SAMPLES];
        empty.capture(&mut untouched);
        assert_eq!(untouched, [7; FRAME_SAMPLES], "nothing queued: the frame is left as it came");
        assert_eq!(empty.pull_playout(), None);
    }

    #[test]
    fn packets_of_any_size_become_whole_frames() {
        let q = FrameQueue::new();
        let mut r = Reframer::default();
        for s in 0..(FRAME_SAMPLES as i16 * 2 + 80) {
            r.push(s, &q);
        }
        assert_eq!(q.pull_playout().map(|f| (f[0], f[159])), Some((0, 159)));
        assert_eq!(q.pull_playout().map(|f| (f[0], f[159])), Some((160, 319)));
        assert_eq!(q.pull_playout(), None, "half a frame waits for the rest");
    }
}
