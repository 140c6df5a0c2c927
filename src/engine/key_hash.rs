//! A 64-bit hash of a row's key (one or more columns), as a scalar
//! function: the frequency scan groups on it instead of on wide keys such
//! as 36-character identifiers, then checks exactly the few hashes that
//! stand for more than one row (see `frequency`). A key whose columns are
//! all NULL hashes to NULL, so it stays a group of its own.
//!
//! The seeds are fixed, so one key hashes alike in every scan.

use std::any::Any;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, UInt64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::hash_utils::create_hashes;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Fixed seeds: hashes must agree between the two passes of a scan.
fn seeds() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x5151_e2c4_7a3b_9d01,
        0x0d2f_8c61_b4e7_3a95,
        0x9b7e_1f03_c6d8_2e47,
        0x3c85_a9d2_71f4_6b18,
    )
}

/// A set of key hashes, probed once per row by [`KeyHash::membership`]:
/// the values are hashes already, so a fast hasher (not SipHash) will do.
pub type Hashes = HashSet<u64, ahash::RandomState>;

/// `key_hash(c1, …)` → UInt64 (NULL when every column is NULL), or, with a
/// set, `key_hash_in(c1, …)` → whether the key's hash is in the set.
#[derive(Debug)]
pub struct KeyHash {
    signature: Signature,
    within: Option<Arc<Hashes>>,
    /// Bits of the hash kept: all of them, except in tests that force
    /// collisions.
    mask: u64,
}

impl KeyHash {
    /// The hash function, keeping the `mask` bits of the hash.
    pub fn udf(mask: u64) -> ScalarUDF {
        ScalarUDF::new_from_impl(KeyHash {
            signature: Signature::variadic_any(Volatility::Immutable),
            within: None,
            mask,
        })
    }

    /// A predicate: the key is not all NULL and its hash (masked as by
    /// [`KeyHash::udf`]) is in `hashes`.
    pub fn membership(hashes: Arc<Hashes>, mask: u64) -> ScalarUDF {
        ScalarUDF::new_from_impl(KeyHash {
            signature: Signature::variadic_any(Volatility::Immutable),
            within: Some(hashes),
            mask,
        })
    }
}

impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        self.mask == other.mask
            && match (&self.within, &other.within) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for KeyHash {}

impl Hash for KeyHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.mask.hash(state);
        self.within.as_ref().map(Arc::as_ptr).hash(state);
    }
}

impl ScalarUDFImpl for KeyHash {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        match self.within {
            None => "key_hash",
            Some(_) => "key_hash_in",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.within {
            None => DataType::UInt64,
            Some(_) => DataType::Boolean,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        // Each argument at the batch's length (a constant, such as a hive
        // partition value, may come as one scalar).
        let columns = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let mut hashes = vec![0_u64; rows];
        create_hashes(&columns, &seeds(), &mut hashes)?;
        if self.mask != u64::MAX {
            hashes.iter_mut().for_each(|h| *h &= self.mask);
        }
        let keyed = some_value(&columns);
        let out: ArrayRef = match &self.within {
            None => Arc::new(UInt64Array::new(hashes.into(), keyed)),
            Some(set) => {
                let hit = hashes.iter().enumerate().map(|(i, h)| {
                    let has_key = keyed.as_ref().is_none_or(|n| n.is_valid(i));
                    Some(has_key && set.contains(h))
                });
                Arc::new(hit.collect::<BooleanArray>())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Valid where at least one column is not NULL (None: every row valid).
fn some_value(columns: &[ArrayRef]) -> Option<NullBuffer> {
    let mut any: Option<NullBuffer> = None;
    for c in columns {
        // A column without NULLs gives every row a key.
        let nulls = c.logical_nulls()?;
        any = Some(match any {
            None => nulls,
            Some(a) => NullBuffer::new(a.inner() | nulls.inner()),
        });
    }
    any.filter(|n| n.null_count() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::Field;

    fn call(udf: &ScalarUDF, columns: Vec<ArrayRef>) -> ArrayRef {
        let rows = columns[0].len();
        let arg_fields = columns
            .iter()
            .map(|c| Arc::new(Field::new("c", c.data_type().clone(), true)))
            .collect();
        let ret = udf.return_type(&[]).unwrap();
        let out = udf
            .invoke_with_args(ScalarFunctionArgs {
                args: columns.into_iter().map(ColumnarValue::Array).collect(),
                arg_fields,
                number_rows: rows,
                return_field: Arc::new(Field::new("r", ret, true)),
                config_options: Arc::default(),
            })
            .unwrap();
        match out {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(_) => panic!("expected an array"),
        }
    }

    #[test]
    fn equal_keys_hash_alike_and_all_null_keys_hash_to_null() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None, Some("x"), None]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(1), None]));
        let out = call(&KeyHash::udf(u64::MAX), vec![a, b]);
        let h = out.as_any().downcast_ref::<UInt64Array>().unwrap();
        assert_eq!(h.value(0), h.value(2));
        assert!(h.is_valid(1), "one NULL column of two is still a key");
        assert_ne!(h.value(0), h.value(1));
        assert!(h.is_null(3));
    }

    #[test]
    fn membership_is_false_for_null_keys_and_unknown_hashes() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), Some("y"), None]));
        let hashes = call(&KeyHash::udf(u64::MAX), vec![a.clone()]);
        let x = hashes
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap()
            .value(0);
        let within = KeyHash::membership(Arc::new(Hashes::from_iter([x])), u64::MAX);
        let out = call(&within, vec![a]);
        let hit = out.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(
            hit.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(false), Some(false)]
        );
    }
}
