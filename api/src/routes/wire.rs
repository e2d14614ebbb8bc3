//! The enums of the contract: each value as ARM spells it, so that serde writes it and the
//! OpenAPI document lists it (`enum`), mapped from the domain's type of the same variants.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares a wire enum and, with `from`, its mapping from the domain enum of the same
/// variants.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident from $($domain:ident)::+ { $($body:tt)* }) => {
        wire_enum!($(#[$m])* $name { $($body)* });
        wire_enum!(@from $name, $($domain)::+, $($body)*);
    };
    (@from $name:ident, $($domain:ident)::+, $($(#[$vm:meta])* $variant:ident),+ $(,)?) => {
        impl From<$($domain)::+> for $name {
            fn from(d: $($domain)::+) -> Self {
                use $($domain)::+ as D;
                match d { $(D::$variant => Self::$variant),+ }
            }
        }
    };
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub enum $name { $($(#[$vm])* $variant),+ }
    };
}

wire_enum!(
    /// Where a resource's last change stands.
    ProvisioningState from berth_domain::arm::ProvisioningState {
        /// Being created.
        Creating,
        /// Being changed (a content-trust wipe runs).
        Updating,
        /// Being deleted.
        Deleting,
        /// Done.
        Succeeded,
        /// Failed.
        Failed,
        /// Canceled.
        Canceled,
    }
);

wire_enum!(
    /// Where a long-running operation stands.
    OperationState from berth_domain::operation::OperationStatus {
        /// Running.
        InProgress,
        /// Done.
        Succeeded,
        /// Failed (see `error`).
        Failed,
        /// Canceled.
        Canceled,
    }
);

wire_enum!(
    /// Which services may bypass the network rules.
    NetworkRuleBypassOptions from berth_domain::registry::NetworkRuleBypass {
        /// Trusted services.
        AzureServices,
        /// None.
        None,
    }
);

wire_enum!(
    /// How role assignments on the registry are read.
    RoleAssignmentMode from berth_domain::registry::RoleAssignmentMode {
        /// Repository-scoped (ABAC) permissions.
        AbacRepositoryPermissions,
        /// Registry-wide permissions.
        LegacyRegistryPermissions,
    }
);

wire_enum!(
    /// The kind of principal a role assignment names.
    PrincipalType from berth_domain::authorization::PrincipalType {
        /// A person.
        User,
        /// A group (its members inherit the assignment).
        Group,
        /// An application.
        ServicePrincipal,
        /// A group of another tenant.
        ForeignGroup,
    }
);

wire_enum!(
    /// A switch as ARM spells it in properties such as `publicNetworkAccess`.
    EnabledState {
        /// On.
        Enabled,
        /// Off.
        Disabled,
    }
);

impl From<bool> for EnabledState {
    fn from(on: bool) -> Self {
        if on { Self::Enabled } else { Self::Disabled }
    }
}
