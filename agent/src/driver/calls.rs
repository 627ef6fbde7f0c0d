//! The driver's side of calls: what each call event means for its media
//! (start, retarget, stop the endpoint) and the handle's call commands (the
//! SDP is built here with `media::offer`, then handed to the sans-IO core).

use super::{Command, Driver, now};
use crate::Error;
use crate::bearer::{MediaEvent, MediaOptions};
use crate::call::{CallEvent, CallId};
use crate::ua::Event;
use std::net::IpAddr;
use tracing::{debug, warn};

impl Driver {
    /// What a call's news means for its media.
    pub(super) async fn on_call_event(&mut self, ev: CallEvent) {
        match ev {
            CallEvent::Incoming { id, offer, .. } => self.bearers.remember_offer(id, offer),
            CallEvent::Answered { id, remote_sdp, .. } => match self.bearers.start(id, &remote_sdp).await {
                Ok(started) => self.emit(Event::Media(started)),
                Err(reason) => self.media_failed(id, reason),
            },
            CallEvent::Reoffer { id, offer } => match self.bearers.reanswer(id, &offer) {
                Ok((sdp, negotiated)) => {
                    if let Err(e) = self.ua.answer_reoffer(now(), id, Ok(sdp)) {
                        debug!(call = %id, error = %e, "re-INVITE answer not sent");
                    }
                    match self.bearers.retarget(id, negotiated).await {
                        Ok(started) => self.emit(Event::Media(started)),
                        Err(reason) => self.media_failed(id, reason),
                    }
                }
                Err(status) => {
                    if let Err(e) = self.ua.answer_reoffer(now(), id, Err(status)) {
                        debug!(call = %id, error = %e, "re-INVITE refusal not sent");
                    }
                }
            },
            CallEvent::Updated { id, remote_sdp, .. } => match self.bearers.reoffer_answered(id, Some(&remote_sdp)).await {
                Some(Ok(started)) => self.emit(Event::Media(started)),
                Some(Err(reason)) => self.media_failed(id, reason),
                None => {}
            },
            CallEvent::ReofferRejected { id, .. } => {
                let _ = self.bearers.reoffer_answered(id, None).await;
            }
            CallEvent::Relocating { id, local } => match self.bearers.rebind(id, local).await {
                Ok(offer) => {
                    if let Err(e) = self.ua.rejoin_call(now(), id, offer) {
                        let _ = self.bearers.reoffer_answered(id, None).await;
                        self.media_failed(id, format!("cannot re-INVITE from the new address: {e}"));
                    }
                }
                Err(e) => self.media_failed(id, format!("cannot move the media to {local}: {e}")),
            },
            // The core re-INVITEs with the SDP it last sent: the stream stays as it is.
            CallEvent::Ringing { .. } | CallEvent::Interrupted { .. } | CallEvent::Rejoined { .. } | CallEvent::Ended { .. } => {}
        }
    }

    fn media_failed(&mut self, id: CallId, reason: String) {
        warn!(call = %id, %reason, "media failed; hanging up");
        self.emit(Event::Media(MediaEvent::Failed { id, reason }));
        if let Err(e) = self.ua.hangup(now(), id) {
            debug!(call = %id, error = %e, "hang-up after media failure");
        }
    }

    /// The flow's local IP: the address the SDP names and the bearer binds.
    fn bearer_ip(&self) -> Result<IpAddr, Error> {
        self.ua.flow().map(|f| f.local.ip()).ok_or(Error::Call(crate::CallError::NoFlow))
    }

    pub(super) async fn on_call_command(&mut self, cmd: Command) {
        match cmd {
            Command::Call { number, options, reply } => {
                let _ = reply.send(self.place_call(&number, options).await);
            }
            Command::Answer { id, options, reply } => {
                let _ = reply.send(self.answer_call(id, options).await);
            }
            Command::Reject { id, status, reply } => {
                let _ = reply.send(self.ua.reject_call(now(), id, status).map_err(Error::from));
            }
            Command::Hangup { id, reply } => {
                let _ = reply.send(self.ua.hangup(now(), id).map_err(Error::from));
            }
            Command::Dtmf { id, digits, reply } => {
                let sent = self.bearers.send_dtmf(id, &digits);
                let _ = reply.send(if sent { Ok(()) } else { Err(Error::Call(crate::CallError::NoSuchCall(id))) });
            }
            Command::Hold { id, hold, reply } => {
                let direction = if hold { media::Direction::SendOnly } else { media::Direction::SendRecv };
                let sent = match self.bearers.reoffer(id, direction) {
                    Some(offer) => self.ua.reoffer(now(), id, offer).map_err(Error::from),
                    None => Err(Error::Call(crate::CallError::NoSuchCall(id))),
                };
                if sent.is_err() {
                    let _ = self.bearers.reoffer_answered(id, None).await;
                }
                let _ = reply.send(sent);
            }
            Command::Stop | Command::CheckPublicIp | Command::Respond { .. } => {}
        }
    }

    async fn place_call(&mut self, number: &str, options: Option<MediaOptions>) -> Result<CallId, Error> {
        let ip = self.bearer_ip()?;
        let (bearer, offer) = self.bearers.offer(ip).await.map_err(Error::Media)?;
        match self.ua.call(now(), number, offer) {
            Ok(id) => {
                let options = options.unwrap_or_else(|| self.bearers.defaults.clone());
                self.bearers.adopt(id, bearer, options);
                Ok(id)
            }
            Err(e) => {
                bearer.close().await;
                Err(e.into())
            }
        }
    }

    async fn answer_call(&mut self, id: CallId, options: Option<MediaOptions>) -> Result<(), Error> {
        let ip = self.bearer_ip()?;
        if !self.ua.calls().contains(&id) {
            return Err(Error::Call(crate::CallError::NoSuchCall(id)));
        }
        let options = options.unwrap_or_else(|| self.bearers.defaults.clone());
        match self.bearers.answer(id, ip, options).await {
            Ok(sdp) => self.ua.answer_call(now(), id, sdp).map_err(Error::from),
            Err(e) => {
                // The offer is unusable (488) or the bearer port is taken (500): say so to the switch.
                let status = sipcore::ToStatus::status(&e).as_u16();
                let _ = self.ua.reject_call(now(), id, status);
                Err(Error::Media(e))
            }
        }
    }
}
