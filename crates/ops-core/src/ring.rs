//! Deployment rings, from the lab to the whole fleet.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A deployment ring. Deployments move outward one ring at a time, in declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ring {
    /// Lab devices owned by the platform team.
    Lab,
    /// A small set of volunteer production devices.
    Canary,
    /// A representative slice of each business unit.
    Pilot,
    /// Whole departments.
    Department,
    /// Every managed device. The last ring: it has no next ring.
    Global,
}

/// The error returned when a ring name is not one of the five rings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ring {name:?}: expected one of Lab, Canary, Pilot, Department, Global")]
pub struct UnknownRing {
    /// The name as given.
    pub name: String,
}

impl Ring {
    /// All rings, innermost first.
    pub const ALL: [Ring; 5] = [
        Ring::Lab,
        Ring::Canary,
        Ring::Pilot,
        Ring::Department,
        Ring::Global,
    ];

    /// Returns the ring a deployment is promoted to from this one, or `None` for Global.
    pub fn next(self) -> Option<Ring> {
        let position = Ring::ALL.iter().position(|ring| *ring == self)?;
        Ring::ALL.get(position + 1).copied()
    }

    /// Returns the ring's name as operators write it (`Lab`, `Canary`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Ring::Lab => "Lab",
            Ring::Canary => "Canary",
            Ring::Pilot => "Pilot",
            Ring::Department => "Department",
            Ring::Global => "Global",
        }
    }
}

impl fmt::Display for Ring {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for Ring {
    type Err = UnknownRing;

    /// Parses a ring name case-insensitively, ignoring surrounding whitespace.
    fn from_str(text: &str) -> Result<Ring, UnknownRing> {
        let trimmed = text.trim();
        Ring::ALL
            .into_iter()
            .find(|ring| ring.name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| UnknownRing {
                name: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_are_ordered_lab_to_global() {
        assert!(Ring::Lab < Ring::Canary);
        assert!(Ring::Canary < Ring::Pilot);
        assert!(Ring::Pilot < Ring::Department);
        assert!(Ring::Department < Ring::Global);
    }

    #[test]
    fn next_ring_table() {
        assert_eq!(Ring::Lab.next(), Some(Ring::Canary));
        assert_eq!(Ring::Canary.next(), Some(Ring::Pilot));
        assert_eq!(Ring::Pilot.next(), Some(Ring::Department));
        assert_eq!(Ring::Department.next(), Some(Ring::Global));
        assert_eq!(Ring::Global.next(), None);
    }

    #[test]
    fn parse_ignores_case_and_whitespace() {
        assert_eq!("canary".parse(), Ok(Ring::Canary));
        assert_eq!(" GLOBAL ".parse(), Ok(Ring::Global));
        assert_eq!("Department".parse(), Ok(Ring::Department));
    }

    #[test]
    fn parse_error_lists_valid_names() {
        let error = "prod".parse::<Ring>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"prod\""), "{message}");
        for ring in Ring::ALL {
            assert!(message.contains(ring.name()), "{message} lacks {ring}");
        }
    }

    #[test]
    fn display_round_trips_through_parse() {
        for ring in Ring::ALL {
            assert_eq!(ring.to_string().parse(), Ok(ring));
        }
    }
}
