//! The codecs a cluster's processes encode plans with. Ballista ships plans as protobuf: the
//! client's logical plan to the scheduler, each stage's physical plan to the executors. A codec
//! handed to Ballista replaces its own, which encodes its shuffle nodes, so these wrap it:
//! what is this crate's (the window join, the prefix sort, the lake's tables)
//! is encoded here, everything else by Ballista's codec. One leading byte says which.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, TableReference, internal_err};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{
    ComposedPhysicalExtensionCodec, PhysicalExtensionCodec, PhysicalProtoConverterExtension,
};

use crate::catalog::LakeTable;
use crate::guid::{GUID_TEXT, guid_text};
use crate::kql;
use crate::operator::physical_codec;
use crate::operator::window_join::WindowJoinLogicalCodec;

/// The first byte of a node's encoding: whose codec wrote the rest.
const BALLISTA: u8 = 0;
const OURS: u8 = 1;

/// `ours` when it encodes the node, Ballista's codec otherwise; the byte in front says which.
fn encode_either(
    buf: &mut Vec<u8>,
    ours: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ballista: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut data = Vec::new();
    let tag = match ours(&mut data) {
        Ok(()) => OURS,
        Err(_) => {
            data.clear();
            ballista(&mut data)?;
            BALLISTA
        }
    };
    buf.push(tag);
    buf.extend_from_slice(&data);
    Ok(())
}

/// The codec [`encode_either`] chose, and its bytes.
fn split(buf: &[u8]) -> Result<(u8, &[u8])> {
    match buf.split_first() {
        Some((&tag, rest)) if tag == BALLISTA || tag == OURS => Ok((tag, rest)),
        _ => internal_err!("a plan node encoded by neither this crate's codec nor Ballista's"),
    }
}

#[derive(Debug, Default)]
pub struct ClusterLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
    window_join: WindowJoinLogicalCodec,
}

impl LogicalExtensionCodec for ClusterLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        match split(buf)? {
            (OURS, rest) => self.window_join.try_decode(rest, inputs, ctx),
            (_, rest) => self.ballista.try_decode(rest, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        encode_either(
            buf,
            |data| self.window_join.try_encode(node, data),
            |data| self.ballista.try_encode(node, data),
        )
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match split(buf)? {
            (OURS, rest) => Ok(Arc::new(LakeTable::decode(rest, schema, ctx)?)),
            (_, rest) => self
                .ballista
                .try_decode_table_provider(rest, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let lake_table = LakeTable::encode(node.as_ref());
        encode_either(
            buf,
            |data| match lake_table {
                Some(encoded) => {
                    data.extend_from_slice(&encoded);
                    Ok(())
                }
                None => internal_err!("not a lake table"),
            },
            |data| {
                self.ballista
                    .try_encode_table_provider(table_ref, node, data)
            },
        )
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    /// The plans of KQL queries call retrohunt's Kusto functions, which no session registers.
    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match kql::udf(name) {
            Some(udf) => Ok(udf),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }
}

#[derive(Debug)]
pub struct ClusterPhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
    ours: ComposedPhysicalExtensionCodec,
}

impl Default for ClusterPhysicalCodec {
    fn default() -> Self {
        ClusterPhysicalCodec {
            ballista: BallistaPhysicalExtensionCodec::default(),
            ours: physical_codec(),
        }
    }
}

impl PhysicalExtensionCodec for ClusterPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match split(buf)? {
            (OURS, rest) => self.ours.try_decode(rest, inputs, ctx, converter),
            (_, rest) => self.ballista.try_decode(rest, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        encode_either(
            buf,
            |data| self.ours.try_encode(Arc::clone(&node), data, converter),
            |data| self.ballista.try_encode(Arc::clone(&node), data, converter),
        )
    }

    /// The scans of a lake holding GUIDs as UUIDs call [`guid_text`], and KQL queries
    /// retrohunt's Kusto functions, which no executor's session registers.
    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match (name, kql::udf(name)) {
            (GUID_TEXT, _) => Ok(guid_text()),
            (_, Some(udf)) => Ok(udf),
            _ => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }
}
