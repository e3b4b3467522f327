//! The ids that travel through a run, each its own type so that a metric id cannot be passed
//! where a dimension id belongs, and the key that identifies one value.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use crate::workiva::models::ReportingPeriod;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared text: a clone costs a count, not a copy, so a million rows that name one
        /// metric or one facility hold one copy of its id.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(Arc::from(id.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Lets maps keyed by the id be read with a `&str`.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

id!(
    /// A Workiva program's id (a UUID).
    ProgramId
);
id!(
    /// A Workiva metric's id (a UUID), never the lake's metric key or the metric's name.
    MetricId
);
id!(
    /// A Workiva dimension's id (a UUID), never its name.
    DimensionId
);
id!(
    /// A dimension value's id (at most 20 characters), never its display name.
    DimensionValueId
);

/// A value's coordinates: dimension id to value id, sorted by dimension.
pub type Coordinates = Vec<(DimensionId, DimensionValueId)>;

/// What identifies a value in Workiva: its metric, period and coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueKey {
    pub metric: MetricId,
    pub period: ReportingPeriod,
    pub coords: Coordinates,
}

/// The hash maps and sets of the plan's hot paths (a row's or a value's key, by the million):
/// foldhash, randomly seeded, instead of SipHash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
