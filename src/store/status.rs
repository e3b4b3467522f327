//! The states runs, batches, deletions and reviewers' decisions are recorded in, as the store
//! keeps them (text).

use std::fmt;

/// Defines a state kept as text: its variants with their text, `as_str`, parsing,
/// `Display`, `Serialize` as the text, and comparison with the text (`status == "running"`).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text the store keeps.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The state a stored text names; none for a text no version of esg-sync wrote.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The state in `column` of row `id` of `table`, or the error that names the row.
            pub(super) fn of_row(
                table: &'static str,
                id: i64,
                column: &'static str,
                text: String,
            ) -> Result<Self, super::StoreError> {
                Self::parse(&text).ok_or(super::StoreError::Corrupt {
                    table,
                    id,
                    column,
                    status: text,
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    };
}

text_enum! {
    /// How a recorded run stands.
    RunStatus {
        /// Started, not ended (or its process died: the next run of its pipeline ends it).
        Running => "running",
        Succeeded => "succeeded",
        /// Landed, with rows rejected or locked values that conflict.
        Partial => "partial",
        /// A fault stopped it, at its start or part way.
        Failed => "failed",
        /// A shutdown or a lost lease stopped it; its batches were resumed by a later run.
        Interrupted => "interrupted",
    }
}

text_enum! {
    /// How a recorded batch stands.
    BatchStatus {
        /// Recorded, not known to be sent.
        Pending => "pending",
        /// Workiva took it; its operation URL is recorded.
        Sent => "sent",
        Completed => "completed",
        Failed => "failed",
        /// Divided into smaller batches after it failed.
        Split => "split",
        /// Left pending by a run that stopped: whether Workiva took it is unknown, and it is
        /// never resent blind (the next plan sends what did not land).
        Unconfirmed => "unconfirmed",
    }
}

text_enum! {
    /// How a recorded mirror-mode deletion stands.
    DeletionStatus {
        /// Recorded, not known to be sent.
        Pending => "pending",
        /// Workiva confirmed it.
        Deleted => "deleted",
        /// Not sent, or Workiva refused it.
        Failed => "failed",
        /// Left pending by a run that stopped; the next plan deletes what is still there.
        Unconfirmed => "unconfirmed",
    }
}

text_enum! {
    /// How an alert delivery stands.
    DeliveryStatus {
        /// Being attempted (or its process died part way).
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Refused, or not answered, until the attempts ran out.
        Failed => "failed",
    }
}

text_enum! {
    /// How a final reviewer's recorded decision stands.
    DecisionState {
        /// Recorded, not yet known to be submitted (the next pass resolves it).
        Recorded => "recorded",
        Submitted => "submitted",
        /// The task moved on without this submission being confirmed: its answer was lost,
        /// or a person acted first.
        Superseded => "superseded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_reads_back_from_its_text() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in BatchStatus::ALL {
            assert_eq!(BatchStatus::parse(s.as_str()), Some(*s));
        }
        for s in DeletionStatus::ALL {
            assert_eq!(DeletionStatus::parse(s.as_str()), Some(*s));
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(*s));
        }
        for s in DecisionState::ALL {
            assert_eq!(DecisionState::parse(s.as_str()), Some(*s));
        }

        assert_eq!(RunStatus::parse("Running"), None);
        assert_eq!(BatchStatus::parse(""), None);
        assert!(RunStatus::Running == "running" && BatchStatus::Sent != "pending");
    }
}
