//! The window-join operator, independent of sign-in logs: an optimizer rule finds band joins
//! in logical plans ([`band`], [`rule`]), a logical node carries them ([`node`]), and a planner
//! ([`planner`]) turns the node into [`window_join::WindowJoinExec`], and [`codec`] ships both
//! through DataFusion's protobuf plans.

pub mod band;
pub mod codec;
pub mod node;
pub mod planner;
pub mod rule;
pub mod window_join;
