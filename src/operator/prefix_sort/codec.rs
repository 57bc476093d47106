//! [`PrefixSortExec`] in DataFusion's protobuf plans, so a plan it stands in can be shipped to
//! other processes. The input travels separately; only the order is encoded.

use std::sync::Arc;

use datafusion::arrow::compute::SortOptions;
use datafusion::common::{DataFusionError, Result, internal_err, not_impl_err};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::PhysicalSortExprNode;
use prost::Message;

use super::PrefixSortExec;

#[derive(Clone, PartialEq, Message)]
struct PrefixSortExecProto {
    #[prost(message, repeated, tag = "1")]
    ordering: Vec<PhysicalSortExprNode>,
}

#[derive(Debug, Default)]
pub struct PrefixSortCodec;

impl PhysicalExtensionCodec for PrefixSortCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let proto = PrefixSortExecProto::decode(buf).map_err(|e| {
            DataFusionError::Internal(format!("PrefixSortExec: cannot decode the plan: {e}"))
        })?;
        let [input] = inputs else {
            return internal_err!("PrefixSortExec has one input");
        };
        let decode = PhysicalPlanDecodeContext::new(ctx, self);
        let schema = input.schema();
        let sorts = proto
            .ordering
            .iter()
            .map(|sort| {
                let Some(expr) = &sort.expr else {
                    return internal_err!("PrefixSortExec: a sort expression is missing");
                };
                let expr = converter.proto_to_physical_expr(expr, &schema, &decode)?;
                Ok(PhysicalSortExpr::new(
                    expr,
                    SortOptions::new(!sort.asc, sort.nulls_first),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let Some(ordering) = LexOrdering::new(sorts) else {
            return internal_err!("PrefixSortExec: the encoded order is empty");
        };
        match PrefixSortExec::try_new(ordering, input.clone())? {
            Some(exec) => Ok(Arc::new(exec)),
            None => internal_err!("PrefixSortExec: the encoded order has no fixed-width lead"),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(sort) = node.downcast_ref::<PrefixSortExec>() else {
            return not_impl_err!("PrefixSortCodec does not encode {}", node.name());
        };
        let ordering = sort
            .ordering()
            .iter()
            .map(|sort| {
                Ok(PhysicalSortExprNode {
                    expr: Some(Box::new(
                        converter.physical_expr_to_proto(&sort.expr, self)?,
                    )),
                    asc: !sort.options.descending,
                    nulls_first: sort.options.nulls_first,
                })
            })
            .collect::<Result<_>>()?;
        PrefixSortExecProto { ordering }.encode(buf).map_err(|e| {
            DataFusionError::Internal(format!("PrefixSortExec: cannot encode the plan: {e}"))
        })
    }
}
