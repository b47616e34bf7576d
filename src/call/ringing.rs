//! Offering a call to one agent who may have several phones registered
//! (a desk phone and a softphone): every contact rings at once (parallel
//! forking), the first answer wins and the others are cancelled. This is
//! the bookkeeping only — which legs are still ringing and what the
//! outcome is — so the rules are tested without SIP.

use crate::sip::dialog::CallHandle;

/// How an offer to an agent ended, as the routing engine needs to hear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingEnd {
    /// This leg answered; the others must be cancelled.
    Answered(CallHandle),
    /// Every phone refused (busy, decline): `agent_declined`.
    Declined,
    /// Every phone failed otherwise (timeout, unavailable, error):
    /// `agent_no_answer`.
    NoAnswer,
}

/// One agent being offered one call on all their phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRing {
    pub agent: String,
    ringing: Vec<CallHandle>,
    answered: Option<CallHandle>,
    any_declined: bool,
}

impl AgentRing {
    pub fn new(agent: impl Into<String>, legs: Vec<CallHandle>) -> AgentRing {
        AgentRing {
            agent: agent.into(),
            ringing: legs,
            answered: None,
            any_declined: false,
        }
    }

    pub fn has_leg(&self, leg: CallHandle) -> bool {
        self.ringing.contains(&leg) || self.answered == Some(leg)
    }

    /// The leg that answered, once one has.
    pub fn answered(&self) -> Option<CallHandle> {
        self.answered
    }

    /// Legs still ringing (to cancel when the offer is withdrawn).
    pub fn ringing(&self) -> &[CallHandle] {
        &self.ringing
    }

    /// A phone answered. The first answer wins: returns the end and the
    /// other legs to cancel. A later answer from another phone (both
    /// picked up at once) returns `None`: that leg must be hung up.
    pub fn on_answer(&mut self, leg: CallHandle) -> Option<(RingEnd, Vec<CallHandle>)> {
        if self.answered.is_some() || !self.ringing.contains(&leg) {
            return None;
        }
        self.ringing.retain(|&l| l != leg);
        self.answered = Some(leg);
        Some((RingEnd::Answered(leg), std::mem::take(&mut self.ringing)))
    }

    /// A phone gave a final failure. When it was the last one ringing and
    /// nobody answered, the offer is over.
    pub fn on_failure(&mut self, leg: CallHandle, status: u16) -> Option<RingEnd> {
        let before = self.ringing.len();
        self.ringing.retain(|&l| l != leg);
        if self.ringing.len() == before {
            return None;
        }
        if matches!(status, 486 | 600 | 603) {
            self.any_declined = true;
        }
        if !self.ringing.is_empty() || self.answered.is_some() {
            return None;
        }
        Some(if self.any_declined {
            RingEnd::Declined
        } else {
            RingEnd::NoAnswer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_answer_wins_and_cancels_the_other_phones() {
        let mut r = AgentRing::new("anna", vec![1, 2, 3]);
        assert_eq!(r.on_answer(2), Some((RingEnd::Answered(2), vec![1, 3])));
        assert_eq!(r.answered(), Some(2));
        // Phone 3 answered at the same moment: not accepted.
        assert_eq!(r.on_answer(3), None);
        // The cancelled phones' 487s change nothing.
        assert_eq!(r.on_failure(1, 487), None);
        assert!(r.has_leg(2));
    }

    #[test]
    fn all_phones_failing_ends_the_offer_once() {
        let mut r = AgentRing::new("anna", vec![1, 2]);
        assert_eq!(r.on_failure(1, 486), None);
        assert_eq!(r.on_failure(2, 408), Some(RingEnd::Declined));
        assert_eq!(r.on_failure(2, 408), None);

        let mut r = AgentRing::new("boris", vec![7]);
        assert_eq!(r.on_failure(7, 480), Some(RingEnd::NoAnswer));
    }
}
