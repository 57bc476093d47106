//! Query operators, independent of sign-in logs. [`window_join`] runs band joins (equal keys,
//! times within a window) in time linear in input and output; [`late_fetch`] reads the columns
//! a band join only carries after it, for the rows it keeps; [`prefix_sort`] sorts the
//! join's output (and any full sort whose order leads with a fixed-width column) without
//! encoding every row in full. Each folder holds its operator whole: rule, plan node, codec.
//! The engine registers what this module exports.

pub mod late_fetch;
mod planner;
pub mod prefix_sort;
pub mod window_join;

pub use planner::OperatorQueryPlanner;

use std::sync::Arc;

use datafusion_proto::physical_plan::ComposedPhysicalExtensionCodec;

/// The physical codec for plans holding any of this crate's operators.
pub fn physical_codec() -> ComposedPhysicalExtensionCodec {
    ComposedPhysicalExtensionCodec::new(vec![
        Arc::new(window_join::WindowJoinPhysicalCodec),
        Arc::new(prefix_sort::PrefixSortCodec),
    ])
}
