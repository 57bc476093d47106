//! `ip_in_ranges(ip)`: whether an IP address text lies in any of a fixed set of CIDR ranges,
//! as a DataFusion UDF so exclusions run inside the engine on whole batches.

use std::net::IpAddr;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use ipnet::IpNet;

#[derive(Debug, PartialEq, Eq, Hash)]
struct IpInRanges {
    ranges: Vec<IpNet>,
    signature: Signature,
}

/// `expr` (IP address text) lies in one of `ranges`. Text that is not an IP address (empty,
/// garbage) lies in none. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is its IPv4
/// address, as the sign-in logs write both forms for the same client.
pub fn ip_in_ranges(expr: Expr, ranges: Vec<IpNet>) -> Expr {
    let udf = ScalarUDF::new_from_impl(IpInRanges {
        ranges,
        signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
    });
    udf.call(vec![datafusion::logical_expr::cast(expr, DataType::Utf8)])
}

impl IpInRanges {
    fn contains(&self, text: &str) -> bool {
        let Ok(address) = text.trim().parse::<IpAddr>() else {
            return false;
        };
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        self.ranges.iter().any(|range| range.contains(&address))
    }
}

impl ScalarUDFImpl for IpInRanges {
    fn name(&self) -> &str {
        "ip_in_ranges"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [ips] = args.args.as_slice() else {
            return datafusion::common::exec_err!("ip_in_ranges takes one argument");
        };
        let ips = cast(&ips.to_array(args.number_rows)?, &DataType::Utf8)?;
        let ips = as_string_array(&ips)?;
        let found: BooleanArray = ips
            .iter()
            .map(|ip| Some(ip.is_some_and(|ip| self.contains(ip))))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(found) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> IpInRanges {
        IpInRanges {
            ranges: list.iter().map(|r| r.parse().unwrap()).collect(),
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }

    #[test]
    fn cidr_edges() {
        let r = ranges(&["198.51.100.0/24", "2001:db8:100::/48", "203.0.113.7/32"]);
        for inside in [
            "198.51.100.0",
            "198.51.100.255",
            "203.0.113.7",
            "2001:db8:100::",
            "2001:db8:100:ffff:ffff:ffff:ffff:ffff",
            "2001:DB8:100::1",
            "::ffff:198.51.100.9",
            " 198.51.100.1",
        ] {
            assert!(r.contains(inside), "{inside}");
        }
        for outside in [
            "198.51.99.255",
            "198.51.101.0",
            "203.0.113.6",
            "203.0.113.8",
            "2001:db8:101::",
            "2001:db8:ff::",
            "::198.51.100.9",
            "",
            "not an ip",
            "198.51.100.1:443",
        ] {
            assert!(!r.contains(outside), "{outside}");
        }
    }
}
