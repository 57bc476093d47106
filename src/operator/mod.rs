//! The window-join operator, independent of sign-in logs: an optimizer rule finds band joins
//! in logical plans ([`band`], [`rule`]), a logical node carries them ([`node`]), and a planner
//! ([`planner`]) turns the node into [`window_join::WindowJoinExec`], and [`codec`] ships both
//! through DataFusion's protobuf plans. [`prefix_sort`] sorts the join's output (and any full
//! sort whose order leads with a fixed-width column) without encoding every row in full.

pub mod band;
pub mod codec;
pub mod node;
pub mod planner;
pub mod prefix_sort;
pub mod rule;
pub mod window_join;
