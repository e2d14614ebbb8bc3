//! The checks every stored registry passes, as pure functions: value ranges, the SKU's
//! capability table (which sees content trust in use while it is on or being wiped), and
//! the policies' change times.

use super::RegistryError;
use crate::registry::{Registry, RegistrySettings, Sku};

/// Policies record when they last changed.
pub(super) fn stamp_policy_times(
    before: Option<&RegistrySettings>,
    after: &mut RegistrySettings,
    now: time::OffsetDateTime,
) {
    let p = &mut after.policies;
    let (retention_changed, soft_delete_changed) = match before {
        None => (true, true),
        Some(b) => (
            (b.policies.retention.enabled, b.policies.retention.days)
                != (p.retention.enabled, p.retention.days),
            (
                b.policies.soft_delete.enabled,
                b.policies.soft_delete.retention_days,
            ) != (p.soft_delete.enabled, p.soft_delete.retention_days),
        ),
    };
    if retention_changed {
        p.retention.last_updated = Some(now);
    }
    if soft_delete_changed {
        p.soft_delete.last_updated = Some(now);
    }
}

pub(super) fn check_values(r: &Registry) -> Result<(), RegistryError> {
    let p = &r.settings.policies;
    if p.retention.days > 365 {
        return Err(RegistryError::InvalidValue {
            target: "properties.policies.retentionPolicy.days".to_owned(),
            message: format!(
                "The retention policy's days must be between 0 and 365; {} was given.",
                p.retention.days
            ),
        });
    }
    if !(1..=90).contains(&p.soft_delete.retention_days) {
        return Err(RegistryError::InvalidValue {
            target: "properties.policies.softDeletePolicy.retentionDays".to_owned(),
            message: format!(
                "The soft-delete policy's retentionDays must be between 1 and 90; {} was given.",
                p.soft_delete.retention_days
            ),
        });
    }
    Ok(())
}

/// The capability table decides: a feature in use must be in the (new) SKU.
pub(super) fn check_sku(current: Option<&Registry>, next: &Registry) -> Result<(), RegistryError> {
    let caps = next.sku.capabilities();
    for feature in next.features_used() {
        if caps.has(feature) {
            continue;
        }
        let required = Sku::ALL
            .into_iter()
            .find(|s| s.capabilities().has(feature))
            .unwrap_or(Sku::Premium);
        let was_in_use =
            current.is_some_and(|c| c.features_used().contains(&feature) && c.sku != next.sku);
        return Err(match current {
            Some(c) if was_in_use => RegistryError::SkuDowngradeBlocked {
                feature,
                registry: next.name().to_string(),
                from: c.sku,
                to: next.sku,
                required,
            },
            _ => RegistryError::FeatureNotInSku {
                feature,
                registry: next.name().to_string(),
                sku: next.sku,
                required,
            },
        });
    }
    Ok(())
}
