//! GUIDs stored as 16-byte values, as Parquet's UUID type holds them (DuckDB writes the GUIDs
//! it read from JSON so), read as the text the logs write them in: lower-case hex,
//! 8-4-4-4-12. Arrow casts no such value to text, so ingest (`ingest/parquet.rs`) and the
//! tables of a lake other tools wrote (`catalog/foreign.rs`) both convert them here.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// How Parquet's UUID type reads into Arrow.
pub const UUID: DataType = DataType::FixedSizeBinary(16);

/// `array`'s values as GUID text, if it holds 16-byte values (`None` otherwise).
pub fn uuids_as_text(array: &ArrayRef) -> Option<ArrayRef> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let uuids = array.as_fixed_size_binary_opt()?;
    if uuids.value_length() != 16 {
        return None;
    }
    let mut text = StringBuilder::with_capacity(uuids.len(), uuids.len() * 36);
    let mut buffer = [b'-'; 36];
    for bytes in uuids.iter() {
        let Some(bytes) = bytes else {
            text.append_null();
            continue;
        };
        let mut at = 0;
        for (index, byte) in bytes.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                at += 1;
            }
            buffer[at] = HEX[usize::from(byte >> 4)];
            buffer[at + 1] = HEX[usize::from(byte & 0xf)];
            at += 2;
        }
        text.append_value(std::str::from_utf8(&buffer).expect("hex digits and dashes"));
    }
    Some(Arc::new(text.finish()))
}

/// The name a cluster's codec finds [`guid_text`] by (`cluster/codec.rs`): executors decode
/// the scans of such a lake, and no session registers the function.
pub const GUID_TEXT: &str = "guid_text";

/// `guid_text(uuid)`: [`uuids_as_text`] as a function of a plan (plain `Utf8`).
pub fn guid_text() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(GuidText {
        signature: Signature::exact(vec![UUID], Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct GuidText {
    signature: Signature,
}

impl ScalarUDFImpl for GuidText {
    fn name(&self) -> &str {
        GUID_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [uuids] = args.args.as_slice() else {
            return exec_err!("{GUID_TEXT} takes one argument");
        };
        let uuids = uuids.to_array(args.number_rows)?;
        match uuids_as_text(&uuids) {
            Some(text) => Ok(ColumnarValue::Array(text)),
            None => exec_err!(
                "{GUID_TEXT} reads 16-byte values, not {}",
                uuids.data_type()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::FixedSizeBinaryArray;

    use super::*;

    #[test]
    fn sixteen_bytes_read_as_the_text_the_logs_write() {
        let bytes: [u8; 16] = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        let uuids: ArrayRef = Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                [Some(bytes), None].into_iter(),
                16,
            )
            .unwrap(),
        );
        let text = uuids_as_text(&uuids).unwrap();
        let text = text.as_string::<i32>();
        assert_eq!(text.value(0), "00112233-4455-6677-8899-aabbccddeeff");
        assert!(text.is_null(1));
    }
}
