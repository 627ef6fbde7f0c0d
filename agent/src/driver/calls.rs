//! The handle's commands: each goes to the sans-IO core, whose outputs are
//! carried out before the reply (so a call's bearer is bound and its INVITE
//! or 200 sent, or its failure known, by the time the application hears back).

use super::{Command, Driver, now};
use crate::{CallError, CallId, Error};

impl Driver {
    pub(super) async fn on_command(&mut self, cmd: Command) {
        self.media_failures.clear();
        match cmd {
            Command::Stop => self.ua.stop(now()),
            Command::CheckPublicIp => self.ua.check_public_ip(now()),
            Command::NetworkChanged => self.network_changed(true),
            Command::Respond { id, status, reply } => {
                let _ = reply.send(self.ua.respond(now(), &id, status));
            }
            Command::RespondWith { id, response, reply } => {
                let _ = reply.send(self.ua.respond_with(now(), &id, *response));
            }
            Command::Call { number, options, reply } => {
                let placed = self.ua.call(now(), &number);
                if let (Ok(id), Some(options)) = (&placed, options) {
                    self.bearers.set_options(*id, options);
                }
                self.flush().await;
                let _ = reply.send(placed.and_then(|id| self.media_result(id).map(|()| id)));
            }
            Command::Answer { id, options, reply } => {
                if let Some(options) = options {
                    self.bearers.set_options(id, options);
                }
                let answered = self.ua.answer_call(now(), id);
                self.flush().await;
                let _ = reply.send(answered.and_then(|()| self.media_result(id)));
            }
            Command::Reject { id, status, reply } => {
                let _ = reply.send(self.ua.reject_call(now(), id, status));
            }
            Command::Hangup { id, reply } => {
                let _ = reply.send(self.ua.hangup(now(), id));
            }
            Command::Dtmf { id, digits, reply } => {
                let sent = self.bearers.send_dtmf(id, &digits);
                let _ = reply.send(if sent { Ok(()) } else { Err(CallError::NoSuchCall(id).into()) });
            }
            Command::Hold { id, hold, reply } => {
                let _ = reply.send(if hold { self.ua.hold(now(), id) } else { self.ua.resume(now(), id) });
            }
        }
    }

    /// How call `id`'s media went while the command's outputs were carried out.
    fn media_result(&mut self, id: CallId) -> Result<(), Error> {
        match self.media_failures.iter().position(|(call, _)| *call == id) {
            Some(i) => Err(Error::Media(self.media_failures.swap_remove(i).1)),
            None => Ok(()),
        }
    }
}
