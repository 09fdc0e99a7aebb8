//! Whether a capture holds a Glasnost test at all: positive evidence only.
//!
//! A Glasnost test leaves marks no ordinary BitTorrent session leaves: its command channel
//! (text commands announcing transfers, [`crate::btparse::command`]), its log, or its control
//! flows: the random-payload twin of each BitTorrent transfer, which opens with a handshake's
//! length of random bytes, between the same two hosts as a BitTorrent transfer. A client's swarm session has a tracker, many peers and often encrypted flows; none of
//! that is evidence either way, and its file name is none at all: a user may name a capture
//! anything.

use std::net::IpAddr;

use crate::btparse::{FlowDecoder, Kind};
use crate::flows::Flow;

use super::RecognisedBy;
use super::schedule::CommandSchedule;

/// The evidence found, strongest first: `command_channel`, `log` or `control_twins`; `None`
/// when there is none.
pub fn recognise(
    flows: &[&Flow<FlowDecoder>],
    commands: &CommandSchedule,
    log_transfers: usize,
) -> Option<RecognisedBy> {
    if !commands.planned.is_empty() || !commands.setups.is_empty() {
        Some(RecognisedBy::CommandChannel)
    } else if log_transfers > 0 {
        Some(RecognisedBy::Log)
    } else if twin_hosts(flows).is_some() {
        Some(RecognisedBy::ControlTwins)
    } else {
        None
    }
}

/// The hosts (client, server) of the first control flow that has a BitTorrent flow between
/// the same two hosts (on the same port or the test's other one).
pub fn twin_hosts(flows: &[&Flow<FlowDecoder>]) -> Option<(IpAddr, IpAddr)> {
    flows
        .iter()
        .filter(|c| c.app.kind() == Kind::Control)
        .find(|c| {
            flows.iter().any(|b| {
                b.app.kind() == Kind::BitTorrent
                    && b.server.ip() == c.server.ip()
                    && b.client.ip() == c.client.ip()
            })
        })
        .map(|c| (c.client.ip(), c.server.ip()))
}
