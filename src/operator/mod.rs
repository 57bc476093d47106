//! The window-join operator, independent of sign-in logs: an optimizer rule finds band joins
//! in logical plans ([`band`], [`rule`]), a logical node carries them ([`node`]), and a planner
//! ([`planner`]) turns the node into [`window_join::WindowJoinExec`].

pub mod band;
pub mod node;
pub mod planner;
pub mod rule;
pub mod window_join;
