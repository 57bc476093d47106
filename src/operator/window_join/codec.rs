//! The window join in DataFusion's protobuf plans: a logical codec for [`WindowJoinNode`] and
//! a physical one for [`WindowJoinExec`], so plans holding them can be shipped to other
//! processes (Ballista's scheduler and executors). Inputs travel separately (the framework
//! encodes them); each codec encodes only the node's own fields, the planner's choice of
//! layout included, since the inputs' partitions were arranged for it.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference, internal_err, not_impl_err};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, Extension, LogicalPlan};
use datafusion::physical_expr::PhysicalExprRef;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::logical_plan::from_proto::parse_expr;
use datafusion_proto::logical_plan::to_proto::serialize_expr;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::{LogicalExprNode, PhysicalExprNode};
use prost::Message;

use super::band::{Band, Bound};
use super::exec::{WindowJoinExec, output_schema};
use super::layout::{Alignment, Because, Driver, Layout, Span};
use super::node::WindowJoinNode;

#[derive(Clone, PartialEq, Message)]
struct BoundProto {
    #[prost(int64, tag = "1")]
    offset: i64,
    #[prost(bool, tag = "2")]
    inclusive: bool,
}

#[derive(Clone, PartialEq, Message)]
struct WindowJoinNodeProto {
    #[prost(message, repeated, tag = "1")]
    left_keys: Vec<LogicalExprNode>,
    #[prost(message, repeated, tag = "2")]
    right_keys: Vec<LogicalExprNode>,
    #[prost(message, optional, tag = "3")]
    left_time: Option<LogicalExprNode>,
    #[prost(message, optional, tag = "4")]
    right_time: Option<LogicalExprNode>,
    #[prost(message, optional, tag = "5")]
    lower: Option<BoundProto>,
    #[prost(message, optional, tag = "6")]
    upper: Option<BoundProto>,
    #[prost(message, optional, tag = "7")]
    residual: Option<LogicalExprNode>,
}

#[derive(Clone, PartialEq, Message)]
struct WindowJoinExecProto {
    #[prost(message, repeated, tag = "1")]
    left_keys: Vec<PhysicalExprNode>,
    #[prost(message, repeated, tag = "2")]
    right_keys: Vec<PhysicalExprNode>,
    #[prost(uint64, tag = "3")]
    left_time: u64,
    #[prost(uint64, tag = "4")]
    right_time: u64,
    #[prost(message, optional, tag = "5")]
    lower: Option<BoundProto>,
    #[prost(message, optional, tag = "6")]
    upper: Option<BoundProto>,
    #[prost(message, optional, tag = "7")]
    residual: Option<PhysicalExprNode>,
    #[prost(enumeration = "LayoutProto", tag = "8")]
    layout: i32,
    #[prost(uint64, tag = "9")]
    outputs: u64,
    #[prost(enumeration = "BecauseProto", tag = "10")]
    because: i32,
    /// Time-aligned: each input partition's span and rows, as planned.
    #[prost(message, repeated, tag = "11")]
    left_partitions: Vec<PartitionProto>,
    #[prost(message, repeated, tag = "12")]
    right_partitions: Vec<PartitionProto>,
}

#[derive(Clone, PartialEq, Message)]
struct PartitionProto {
    /// No `min`/`max`: the partition holds no rows.
    #[prost(int64, optional, tag = "1")]
    min: Option<i64>,
    #[prost(int64, optional, tag = "2")]
    max: Option<i64>,
    #[prost(uint64, tag = "3")]
    rows: u64,
}

/// The planner's choice travels with the plan: the inputs' distribution was arranged for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
enum LayoutProto {
    KeyPartitioned = 0,
    TimeAlignedLeft = 1,
    TimeAlignedRight = 2,
    ProbeLeft = 3,
    ProbeRight = 4,
}

/// Why a join is key-partitioned, for `--explain` on the side that decodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
enum BecauseProto {
    NotWholeFiles = 0,
    FewFiles = 1,
    InexactSpans = 2,
    SpansOverlap = 3,
    Distributed = 4,
}

impl From<Bound> for BoundProto {
    fn from(bound: Bound) -> Self {
        BoundProto {
            offset: bound.offset,
            inclusive: bound.inclusive,
        }
    }
}

/// The layout's fields of a [`WindowJoinExecProto`].
struct LayoutFields {
    layout: LayoutProto,
    outputs: u64,
    because: BecauseProto,
    partitions: (Vec<PartitionProto>, Vec<PartitionProto>),
}

fn encode_layout(layout: &Layout) -> LayoutFields {
    match layout {
        Layout::KeyPartitioned(because) => LayoutFields {
            layout: LayoutProto::KeyPartitioned,
            outputs: 0,
            because: match because {
                Because::NotWholeFiles => BecauseProto::NotWholeFiles,
                Because::FewFiles => BecauseProto::FewFiles,
                Because::InexactSpans => BecauseProto::InexactSpans,
                Because::SpansOverlap => BecauseProto::SpansOverlap,
                Because::Distributed => BecauseProto::Distributed,
            },
            partitions: (Vec::new(), Vec::new()),
        },
        Layout::Probe(driver) => LayoutFields {
            layout: match driver {
                Driver::Left => LayoutProto::ProbeLeft,
                Driver::Right => LayoutProto::ProbeRight,
            },
            outputs: 0,
            because: BecauseProto::NotWholeFiles,
            partitions: (Vec::new(), Vec::new()),
        },
        Layout::TimeAligned(alignment) => {
            let encode = |partitions: &[(Span, usize)]| -> Vec<PartitionProto> {
                partitions
                    .iter()
                    .map(|&(span, rows)| {
                        let (min, max) = match span {
                            Span::Empty => (None, None),
                            Span::Within(min, max) => (Some(min), Some(max)),
                        };
                        PartitionProto {
                            min,
                            max,
                            rows: rows as u64,
                        }
                    })
                    .collect()
            };
            LayoutFields {
                layout: match alignment.driver {
                    Driver::Left => LayoutProto::TimeAlignedLeft,
                    Driver::Right => LayoutProto::TimeAlignedRight,
                },
                outputs: alignment.outputs as u64,
                because: BecauseProto::NotWholeFiles,
                partitions: (
                    encode(&alignment.partitions.0),
                    encode(&alignment.partitions.1),
                ),
            }
        }
    }
}

fn decode_layout(proto: &WindowJoinExecProto, bounds: (Bound, Bound)) -> Result<Layout> {
    let internal =
        |e: &dyn std::fmt::Display| DataFusionError::Internal(format!("WindowJoin: {e}"));
    let layout = LayoutProto::try_from(proto.layout).map_err(|e| internal(&e))?;
    let driver = match layout {
        LayoutProto::KeyPartitioned => {
            let because = BecauseProto::try_from(proto.because).map_err(|e| internal(&e))?;
            return Ok(Layout::KeyPartitioned(match because {
                BecauseProto::NotWholeFiles => Because::NotWholeFiles,
                BecauseProto::FewFiles => Because::FewFiles,
                BecauseProto::InexactSpans => Because::InexactSpans,
                BecauseProto::SpansOverlap => Because::SpansOverlap,
                BecauseProto::Distributed => Because::Distributed,
            }));
        }
        LayoutProto::TimeAlignedLeft => Driver::Left,
        LayoutProto::TimeAlignedRight => Driver::Right,
        LayoutProto::ProbeLeft => return Ok(Layout::Probe(Driver::Left)),
        LayoutProto::ProbeRight => return Ok(Layout::Probe(Driver::Right)),
    };
    let decode = |partitions: &[PartitionProto]| -> Result<Vec<(Span, usize)>> {
        partitions
            .iter()
            .map(|p| {
                let span = match (p.min, p.max) {
                    (None, None) => Span::Empty,
                    (Some(min), Some(max)) if min <= max => Span::Within(min, max),
                    _ => return Err(internal(&"a partition's span has one end")),
                };
                Ok((span, usize::try_from(p.rows).map_err(|e| internal(&e))?))
            })
            .collect()
    };
    let partitions = (
        decode(&proto.left_partitions)?,
        decode(&proto.right_partitions)?,
    );
    let outputs = usize::try_from(proto.outputs).map_err(|e| internal(&e))?;
    let bounds = (bounds.0.inclusive_lower(), bounds.1.inclusive_upper());
    let alignment = Alignment::of_partitions(driver, partitions, bounds, outputs);
    Ok(Layout::TimeAligned(Arc::new(alignment)))
}

fn bound(proto: Option<BoundProto>) -> Result<Bound> {
    match proto {
        Some(BoundProto { offset, inclusive }) => Ok(Bound { offset, inclusive }),
        None => internal_err!("WindowJoin: a bound is missing from the encoded plan"),
    }
}

fn decode_error(error: prost::DecodeError) -> DataFusionError {
    DataFusionError::Internal(format!("WindowJoin: cannot decode the plan: {error}"))
}

fn encode_error(error: prost::EncodeError) -> DataFusionError {
    DataFusionError::Internal(format!("WindowJoin: cannot encode the plan: {error}"))
}

/// Encodes [`WindowJoinNode`]s; tables and functions are left to DataFusion's defaults.
#[derive(Debug, Default)]
pub struct WindowJoinLogicalCodec;

impl WindowJoinLogicalCodec {
    fn exprs(&self, exprs: &[Expr]) -> Result<Vec<LogicalExprNode>> {
        exprs
            .iter()
            .map(|expr| Ok(serialize_expr(expr, self)?))
            .collect()
    }

    fn column(
        &self,
        proto: Option<&LogicalExprNode>,
        ctx: &TaskContext,
    ) -> Result<datafusion::common::Column> {
        match proto
            .map(|proto| parse_expr(proto, ctx, self))
            .transpose()?
        {
            Some(Expr::Column(column)) => Ok(column),
            _ => internal_err!("WindowJoin: a time is not a column in the encoded plan"),
        }
    }
}

impl LogicalExtensionCodec for WindowJoinLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        let proto = WindowJoinNodeProto::decode(buf).map_err(decode_error)?;
        let [left, right] = inputs else {
            return internal_err!("WindowJoin has two inputs");
        };
        let keys = |protos: &[LogicalExprNode]| -> Result<Vec<Expr>> {
            protos
                .iter()
                .map(|proto| Ok(parse_expr(proto, ctx, self)?))
                .collect()
        };
        let on = keys(&proto.left_keys)?
            .into_iter()
            .zip(keys(&proto.right_keys)?)
            .collect();
        let node = WindowJoinNode::over(
            left.clone(),
            right.clone(),
            Band {
                on,
                left_time: self.column(proto.left_time.as_ref(), ctx)?,
                right_time: self.column(proto.right_time.as_ref(), ctx)?,
                lower: bound(proto.lower)?,
                upper: bound(proto.upper)?,
                residual: proto
                    .residual
                    .as_ref()
                    .map(|p| parse_expr(p, ctx, self))
                    .transpose()?,
            },
        )?;
        Ok(Extension {
            node: Arc::new(node),
        })
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        let Some(node) = node.node.as_any().downcast_ref::<WindowJoinNode>() else {
            return not_impl_err!("no codec for the extension node {}", node.node.name());
        };
        let band = &node.band;
        let (left_keys, right_keys): (Vec<Expr>, Vec<Expr>) = band.on.iter().cloned().unzip();
        let time = |column: &datafusion::common::Column| {
            serialize_expr(&Expr::Column(column.clone()), self)
        };
        let proto = WindowJoinNodeProto {
            left_keys: self.exprs(&left_keys)?,
            right_keys: self.exprs(&right_keys)?,
            left_time: Some(time(&band.left_time)?),
            right_time: Some(time(&band.right_time)?),
            lower: Some(band.lower.into()),
            upper: Some(band.upper.into()),
            residual: band
                .residual
                .as_ref()
                .map(|r| serialize_expr(r, self))
                .transpose()?,
        };
        proto.encode(buf).map_err(encode_error)
    }

    fn try_decode_table_provider(
        &self,
        _buf: &[u8],
        table: &TableReference,
        _schema: datafusion::arrow::datatypes::SchemaRef,
        _ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        not_impl_err!("WindowJoinLogicalCodec does not decode the table {table}")
    }

    fn try_encode_table_provider(
        &self,
        table: &TableReference,
        _node: Arc<dyn TableProvider>,
        _buf: &mut Vec<u8>,
    ) -> Result<()> {
        not_impl_err!("WindowJoinLogicalCodec does not encode the table {table}")
    }
}

/// Encodes [`WindowJoinExec`]s.
#[derive(Debug, Default)]
pub struct WindowJoinPhysicalCodec;

impl WindowJoinPhysicalCodec {
    fn decode_window_join(
        &self,
        proto: WindowJoinExecProto,
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right] = inputs else {
            return internal_err!("WindowJoinExec has two inputs");
        };
        let decode = PhysicalPlanDecodeContext::new(ctx, self);
        let exprs =
            |protos: &[PhysicalExprNode], schema: &Schema| -> Result<Vec<PhysicalExprRef>> {
                protos
                    .iter()
                    .map(|proto| converter.proto_to_physical_expr(proto, schema, &decode))
                    .collect()
            };
        let (left_schema, right_schema) = (left.schema(), right.schema());
        let on = exprs(&proto.left_keys, &left_schema)?
            .into_iter()
            .zip(exprs(&proto.right_keys, &right_schema)?)
            .collect();
        let column = |schema: &Schema, index: u64| -> Result<Column> {
            let index =
                usize::try_from(index).map_err(|e| DataFusionError::Internal(e.to_string()))?;
            Ok(Column::new(schema.field(index).name(), index))
        };
        let joined = output_schema(&left_schema, &right_schema);
        let residual = proto
            .residual
            .as_ref()
            .map(|proto| converter.proto_to_physical_expr(proto, &joined, &decode))
            .transpose()?;
        let bounds = (bound(proto.lower.clone())?, bound(proto.upper.clone())?);
        let layout = decode_layout(&proto, bounds)?;
        let exec = WindowJoinExec::try_new(
            left.clone(),
            right.clone(),
            on,
            (
                column(&left_schema, proto.left_time)?,
                column(&right_schema, proto.right_time)?,
            ),
            bounds,
            residual,
            layout,
        )?;
        Ok(Arc::new(exec))
    }

    fn encode_window_join(
        &self,
        join: &WindowJoinExec,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<WindowJoinExecProto> {
        let exprs = |exprs: Vec<PhysicalExprRef>| -> Result<Vec<PhysicalExprNode>> {
            exprs
                .iter()
                .map(|expr| converter.physical_expr_to_proto(expr, self))
                .collect()
        };
        let (left_keys, right_keys) = join.keys();
        let (left_time, right_time) = join.times();
        let (lower, upper) = join.bounds();
        let LayoutFields {
            layout,
            outputs,
            because,
            partitions: (left_partitions, right_partitions),
        } = encode_layout(join.layout());
        let proto = WindowJoinExecProto {
            left_keys: exprs(left_keys)?,
            right_keys: exprs(right_keys)?,
            left_time: left_time.index() as u64,
            right_time: right_time.index() as u64,
            lower: Some(lower.into()),
            upper: Some(upper.into()),
            residual: join
                .residual()
                .map(|expr| converter.physical_expr_to_proto(expr, self))
                .transpose()?,
            layout: layout.into(),
            outputs,
            because: because.into(),
            left_partitions,
            right_partitions,
        };
        Ok(proto)
    }
}

impl PhysicalExtensionCodec for WindowJoinPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let proto = WindowJoinExecProto::decode(buf).map_err(decode_error)?;
        self.decode_window_join(proto, inputs, ctx, converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(join) = node.downcast_ref::<WindowJoinExec>() else {
            return not_impl_err!("WindowJoinPhysicalCodec does not encode {}", node.name());
        };
        self.encode_window_join(join, converter)?
            .encode(buf)
            .map_err(encode_error)
    }
}
