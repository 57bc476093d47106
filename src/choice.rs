//! Closed sets of values a user names in text (an engine, a format, a time column): each
//! value's name and a line on what it is, so that any front end can offer, parse and explain
//! them, and the library depends on none.

/// A value chosen by name from a closed set.
pub trait Choice: Copy + PartialEq + Send + Sync + 'static {
    /// The values a user may choose, each with its name and a line of help. A value left out
    /// is one only the program chooses.
    const OFFERED: &'static [(Self, &'static str, &'static str)];

    /// The value called `name`, if one is offered.
    fn named(name: &str) -> Option<Self> {
        Self::OFFERED
            .iter()
            .find(|(_, offered, _)| *offered == name)
            .map(|(value, ..)| *value)
    }

    /// The name a user gives this value (empty for one not offered).
    fn choice_name(self) -> &'static str {
        Self::OFFERED
            .iter()
            .find(|(value, ..)| *value == self)
            .map_or("", |(_, name, _)| name)
    }
}
