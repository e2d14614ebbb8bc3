//! Content trust of a registry (Docker Content Trust, Notary v1), as one state machine.
//!
//! ```text
//!              enable                     disable
//!   Disabled ──────────► Enabled ─────────────────────► Wiping(operation)
//!      ▲                                                      │
//!      └──────────────── the wipe's operation finishes ───────┘
//! ```
//!
//! - **Premium only.** That rule is the capability table's (`sku.rs`): content trust is in
//!   use in every state but `Disabled`, so neither enabling it below Premium nor
//!   downgrading a registry while it is on (or still being wiped) passes the SKU check.
//! - **Enabling needs a trust server** in the deployment.
//! - **Disabling wipes every signature**, irreversibly: it starts an operation that deletes
//!   every collection of the registry from the trust store (`trust::wipe`). While it runs
//!   the policy still reads `enabled` (the signatures are not gone yet), no trust-data push
//!   is granted, asking to disable again joins the running wipe, and asking to enable is
//!   refused: **re-enabling waits for the wipe**, so old trust data can never reappear.
//! - Only the wipe's own operation ends it; ending it twice, or with another operation,
//!   changes nothing (the worker may retry).
//!
//! Each transition returns the [`TrustEvent`] the registry service acts on.

use crate::operation::OperationId;

/// Where a registry's content trust stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentTrust {
    /// Off: no trust data is accepted, and the registry has none.
    #[default]
    Disabled,
    /// On: signers may push trust data.
    Enabled,
    /// Being disabled: the operation is deleting the registry's trust data.
    Wiping(OperationId),
}

/// What a transition did, for the service to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustEvent {
    /// Content trust was turned on.
    Enabled,
    /// A disable started this wipe: the operation is to be stored and its worker woken.
    WipeStarted(OperationId),
    /// A disable met the running wipe: the caller follows that operation.
    WipeJoined(OperationId),
    /// The wipe ended: content trust is off.
    WipeFinished(OperationId),
}

/// Why a requested transition is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustRefusal {
    /// Enabling while the wipe runs: re-enabling waits for it.
    WipeInProgress(OperationId),
    /// Enabling in a deployment with no trust server.
    NoTrustServer,
}

impl ContentTrust {
    /// The state as stored: the policy's status and the running wipe, if any.
    #[must_use]
    pub fn from_stored(policy_enabled: bool, wipe: Option<OperationId>) -> Self {
        match (wipe, policy_enabled) {
            (Some(operation), _) => Self::Wiping(operation),
            (None, true) => Self::Enabled,
            (None, false) => Self::Disabled,
        }
    }

    /// What `trustPolicy.status` shows: `enabled` until a wipe has finished.
    #[must_use]
    pub fn policy_enabled(self) -> bool {
        !matches!(self, Self::Disabled)
    }

    /// Whether trust data may be pushed: only while enabled, never during a wipe.
    #[must_use]
    pub fn accepts_trust_data(self) -> bool {
        matches!(self, Self::Enabled)
    }

    /// The running wipe.
    #[must_use]
    pub fn wipe(self) -> Option<OperationId> {
        match self {
            Self::Wiping(operation) => Some(operation),
            _ => None,
        }
    }

    /// Applies a request for the policy's status (`None`: the request does not name it).
    /// `new_wipe` is the operation a wipe this request starts would have; the event says
    /// whether it started.
    ///
    /// # Errors
    /// [`TrustRefusal`] when enabling is asked during a wipe, or with no trust server.
    pub fn request(
        self,
        enable: Option<bool>,
        trust_server_available: bool,
        new_wipe: OperationId,
    ) -> Result<(Self, Option<TrustEvent>), TrustRefusal> {
        Ok(match (self, enable) {
            (Self::Wiping(operation), Some(true)) => {
                return Err(TrustRefusal::WipeInProgress(operation));
            }
            (Self::Wiping(operation), _) => (self, Some(TrustEvent::WipeJoined(operation))),
            (Self::Enabled, Some(false)) => (
                Self::Wiping(new_wipe),
                Some(TrustEvent::WipeStarted(new_wipe)),
            ),
            (Self::Disabled, Some(true)) if !trust_server_available => {
                return Err(TrustRefusal::NoTrustServer);
            }
            (Self::Disabled, Some(true)) => (Self::Enabled, Some(TrustEvent::Enabled)),
            (Self::Enabled | Self::Disabled, _) => (self, None),
        })
    }

    /// Ends the wipe `operation`: content trust is off. Any other state, or another
    /// operation, is left as it is.
    #[must_use]
    pub fn finish_wipe(self, operation: OperationId) -> (Self, Option<TrustEvent>) {
        match self {
            Self::Wiping(running) if running == operation => {
                (Self::Disabled, Some(TrustEvent::WipeFinished(operation)))
            }
            _ => (self, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn op() -> OperationId {
        OperationId::generate()
    }

    #[test]
    fn enabling_needs_a_trust_server() {
        let off = ContentTrust::Disabled;
        assert_eq!(
            off.request(Some(true), true, op()),
            Ok((ContentTrust::Enabled, Some(TrustEvent::Enabled)))
        );
        assert_eq!(
            off.request(Some(true), false, op()),
            Err(TrustRefusal::NoTrustServer)
        );
    }

    #[test]
    fn disabling_starts_a_wipe_and_the_policy_reads_enabled_until_it_ends() {
        let wipe = op();
        let Ok((state, event)) = ContentTrust::Enabled.request(Some(false), true, wipe) else {
            panic!("disable refused")
        };
        assert_eq!(state, ContentTrust::Wiping(wipe));
        assert_eq!(event, Some(TrustEvent::WipeStarted(wipe)));
        assert!(state.policy_enabled());
        assert!(!state.accepts_trust_data());
        assert_eq!(
            state.finish_wipe(wipe),
            (ContentTrust::Disabled, Some(TrustEvent::WipeFinished(wipe)))
        );
    }

    #[test]
    fn during_a_wipe_enabling_is_refused_and_disabling_joins_it() {
        let wipe = op();
        let wiping = ContentTrust::Wiping(wipe);
        assert_eq!(
            wiping.request(Some(true), true, op()),
            Err(TrustRefusal::WipeInProgress(wipe))
        );
        for asked in [Some(false), None] {
            assert_eq!(
                wiping.request(asked, true, op()),
                Ok((wiping, Some(TrustEvent::WipeJoined(wipe))))
            );
        }
    }

    #[test]
    fn only_the_wipes_own_operation_ends_it() {
        let wipe = op();
        let wiping = ContentTrust::Wiping(wipe);
        assert_eq!(wiping.finish_wipe(op()), (wiping, None));
        for state in [ContentTrust::Enabled, ContentTrust::Disabled] {
            assert_eq!(state.finish_wipe(wipe), (state, None));
        }
    }

    #[test]
    fn a_request_that_names_no_change_changes_nothing() {
        for (state, asked) in [
            (ContentTrust::Enabled, None),
            (ContentTrust::Enabled, Some(true)),
            (ContentTrust::Disabled, None),
            (ContentTrust::Disabled, Some(false)),
        ] {
            assert_eq!(state.request(asked, false, op()), Ok((state, None)));
        }
    }

    #[test]
    fn the_stored_form_round_trips() {
        let wipe = op();
        for state in [
            ContentTrust::Disabled,
            ContentTrust::Enabled,
            ContentTrust::Wiping(wipe),
        ] {
            assert_eq!(
                ContentTrust::from_stored(state.policy_enabled(), state.wipe()),
                state
            );
        }
    }
}
