//! The presence loop: find a card every poll, read each card once, report it gone after
//! `removal_polls` empty polls in a row. A card is checked by its serial number whenever it may
//! have been swapped unseen (it was missed by a poll, the reader was silent, the port was lost).

use super::{IdCardEvent, Media, ReaderWorker};
use crate::command::Command;
use crate::sw3::Sw3;
use device_model::DeviceFault;
use std::sync::Arc;

/// What the presence loop knows about the card in the field.
#[derive(Debug)]
pub(super) enum Presence {
    Unknown,
    Empty,
    Present {
        /// The card's serial number, once selected.
        serial: Option<[u8; 8]>,
        /// Read, or given up on: nothing more until it leaves.
        done: bool,
        attempts: u32,
        /// Polls in a row that found no card.
        misses: u32,
        /// It may have been swapped unseen: check its serial before trusting it.
        verify: bool,
    },
}

impl Presence {
    /// A card that was just read, with its serial number.
    pub(super) fn read(serial: [u8; 8]) -> Self {
        Presence::Present {
            serial: Some(serial),
            done: true,
            attempts: 1,
            misses: 0,
            verify: false,
        }
    }

    fn arrived() -> Self {
        Presence::Present {
            serial: None,
            done: false,
            attempts: 0,
            misses: 0,
            verify: false,
        }
    }

    /// The card went unwatched for a while.
    pub(super) fn lost_sight(&mut self) {
        if let Presence::Present { verify, .. } = self {
            *verify = true;
        }
    }
}

impl ReaderWorker {
    /// One round of the presence loop.
    pub(super) fn poll_presence(&mut self) {
        let never = self.never.clone();
        let Ok(reply) = self.exchange(Command::FindCard, &never) else {
            return;
        };
        match Sw3::from(reply.sw3) {
            Sw3::CardFound => {
                match &mut self.presence {
                    Presence::Present { misses, verify, .. } => {
                        *verify |= *misses > 0;
                        *misses = 0;
                    }
                    Presence::Unknown | Presence::Empty => self.card_arrived(),
                }
                self.set_media(Media::Present);
                self.read_if_needed();
            }
            Sw3::NoCard => {
                let gone = match &mut self.presence {
                    Presence::Present { misses, .. } => {
                        *misses += 1;
                        *misses >= self.config.removal_polls
                    }
                    Presence::Unknown | Presence::Empty => {
                        self.presence = Presence::Empty;
                        false
                    }
                };
                if gone {
                    self.card_left();
                }
                if matches!(self.presence, Presence::Empty) {
                    self.set_media(Media::NotPresent);
                }
            }
            _ => {}
        }
    }

    fn card_arrived(&mut self) {
        self.presence = Presence::arrived();
        self.set_media(Media::Present);
        self.emit(IdCardEvent::CardInserted);
    }

    fn card_left(&mut self) {
        self.presence = Presence::Empty;
        self.set_media(Media::NotPresent);
        self.emit(IdCardEvent::CardRemoved);
    }

    /// Reads the card in the field unless it was read (or given up on) already. A card that may
    /// have been swapped is selected first, and treated as a new card if its serial differs.
    fn read_if_needed(&mut self) {
        let Presence::Present {
            serial: known,
            done,
            verify,
            ..
        } = self.presence
        else {
            return;
        };
        if done && !verify {
            return;
        }
        let never = self.never.clone();
        let Ok(serial) = self.select(&never) else {
            return;
        };
        if known.is_some_and(|k| k != serial) {
            self.card_left();
            self.card_arrived();
        } else if done {
            if let Presence::Present { verify, .. } = &mut self.presence {
                *verify = false;
            }
            return;
        }
        let options = self.config.read_options;
        let result = self.read_selected(serial, options, &never);
        let Presence::Present {
            serial: known,
            done,
            attempts,
            verify,
            ..
        } = &mut self.presence
        else {
            return;
        };
        *known = Some(serial);
        *verify = false;
        *attempts += 1;
        match result {
            Ok(card) => {
                *done = true;
                self.emit(IdCardEvent::CardRead(Arc::new(card)));
            }
            Err(e) => {
                *done = *attempts >= self.config.read_attempts;
                tracing::warn!(error = %e, attempts = *attempts, "card read failed");
                self.emit(IdCardEvent::CardReadFailed(e.to_fault()));
            }
        }
    }

    pub(super) fn set_media(&self, media: Media) {
        self.status.update(|s| s.class.media = media);
    }

    fn emit(&self, event: IdCardEvent) {
        let name = match &event {
            IdCardEvent::CardInserted => "card_inserted",
            IdCardEvent::CardRead(_) => "card_read",
            IdCardEvent::CardReadFailed(_) => "card_read_failed",
            IdCardEvent::CardRemoved => "card_removed",
        };
        tracing::info!(event = name, "idcard event");
        // Nobody listening is fine: the kiosk may be on a screen that wants no card.
        let _ = self.events.send(event);
    }
}
