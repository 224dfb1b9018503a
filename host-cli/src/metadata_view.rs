//! Presenting GGUF metadata values: as JSON, as one line of text, and the llama.cpp name of
//! `general.file_type`.

use edgellm_runtime::gguf::{Array, Value};
use serde_json::Value as Json;

/// Arrays longer than this are summarized (`[49152 × string]`) unless the caller asks for
/// everything.
pub const ARRAY_PREVIEW: usize = 8;
/// Strings longer than this (in chars) are cut in text output unless asked for everything.
pub const STRING_PREVIEW: usize = 80;

/// llama.cpp's `enum llama_ftype` name for a `general.file_type` value (without the
/// `LLAMA_FTYPE_` prefix), or `None` for an id it does not define.
pub fn file_type_name(id: u64) -> Option<&'static str> {
    Some(match id {
        0 => "ALL_F32",
        1 => "MOSTLY_F16",
        2 => "MOSTLY_Q4_0",
        3 => "MOSTLY_Q4_1",
        7 => "MOSTLY_Q8_0",
        8 => "MOSTLY_Q5_0",
        9 => "MOSTLY_Q5_1",
        10 => "MOSTLY_Q2_K",
        11 => "MOSTLY_Q3_K_S",
        12 => "MOSTLY_Q3_K_M",
        13 => "MOSTLY_Q3_K_L",
        14 => "MOSTLY_Q4_K_S",
        15 => "MOSTLY_Q4_K_M",
        16 => "MOSTLY_Q5_K_S",
        17 => "MOSTLY_Q5_K_M",
        18 => "MOSTLY_Q6_K",
        19 => "MOSTLY_IQ2_XXS",
        20 => "MOSTLY_IQ2_XS",
        21 => "MOSTLY_Q2_K_S",
        22 => "MOSTLY_IQ3_XS",
        23 => "MOSTLY_IQ3_XXS",
        24 => "MOSTLY_IQ1_S",
        25 => "MOSTLY_IQ4_NL",
        26 => "MOSTLY_IQ3_S",
        27 => "MOSTLY_IQ3_M",
        28 => "MOSTLY_IQ2_S",
        29 => "MOSTLY_IQ2_M",
        30 => "MOSTLY_IQ4_XS",
        31 => "MOSTLY_IQ1_M",
        32 => "MOSTLY_BF16",
        36 => "MOSTLY_TQ1_0",
        37 => "MOSTLY_TQ2_0",
        38 => "MOSTLY_MXFP4_MOE",
        _ => return None,
    })
}

/// A float as JSON through its shortest `f32`/`f64` decimal form, so `1e-5f32` prints as
/// `1e-5` rather than `9.999999747378752e-6`. NaN and infinities become strings.
fn float_json(shortest: String) -> Json {
    match shortest.parse::<f64>() {
        Ok(v) if v.is_finite() => serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number),
        _ => Json::String(shortest),
    }
}

/// The value as JSON. Arrays longer than `max_array` become
/// `{"array": "string", "len": 49152}`; pass `usize::MAX` for everything.
pub fn to_json(value: &Value<'_>, max_array: usize) -> Json {
    match *value {
        Value::U8(v) => v.into(),
        Value::I8(v) => v.into(),
        Value::U16(v) => v.into(),
        Value::I16(v) => v.into(),
        Value::U32(v) => v.into(),
        Value::I32(v) => v.into(),
        Value::U64(v) => v.into(),
        Value::I64(v) => v.into(),
        Value::F32(v) => float_json(v.to_string()),
        Value::F64(v) => float_json(v.to_string()),
        Value::Bool(v) => v.into(),
        Value::String(s) => s.into(),
        Value::Array(a) if a.len() > max_array => array_summary_json(&a),
        Value::Array(a) => Json::Array(a.iter().map(|v| to_json(&v, max_array)).collect()),
    }
}

fn array_summary_json(a: &Array<'_>) -> Json {
    serde_json::json!({ "array": elem_type_name(a), "len": a.len() })
}

fn elem_type_name(a: &Array<'_>) -> String {
    a.elem_type().to_string()
}

/// The value on one line: strings quoted and escaped, long strings and arrays summarized
/// unless `full`.
pub fn to_text(value: &Value<'_>, full: bool) -> String {
    match *value {
        Value::String(s) => quote(s, full),
        Value::F32(v) => v.to_string(),
        Value::F64(v) => v.to_string(),
        Value::Bool(v) => v.to_string(),
        Value::Array(a) if !full && a.len() > ARRAY_PREVIEW => {
            format!("[{} × {}]", a.len(), a.elem_type())
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| to_text(&v, full)).collect();
            format!("[{}]", items.join(", "))
        }
        _ => value.as_i128().map(|v| v.to_string()).unwrap_or_default(),
    }
}

/// `s` quoted with Rust escapes (newlines stay on one line), cut to [`STRING_PREVIEW`] chars
/// unless `full`.
pub fn quote(s: &str, full: bool) -> String {
    let n_chars = s.chars().count();
    if full || n_chars <= STRING_PREVIEW {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(STRING_PREVIEW).collect();
    format!("{head:?}… ({n_chars} chars)")
}

/// Name of a value's type for listings: `u32`, `string`, `[string]`.
pub fn type_name(value: &Value<'_>) -> String {
    match value {
        Value::Array(a) => format!("[{}]", a.elem_type()),
        v => v.value_type().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_types() {
        assert_eq!(file_type_name(3), Some("MOSTLY_Q4_1"));
        assert_eq!(file_type_name(15), Some("MOSTLY_Q4_K_M"));
        assert_eq!(file_type_name(32), Some("MOSTLY_BF16"));
        assert_eq!(file_type_name(4), None);
    }

    #[test]
    fn scalars() {
        assert_eq!(to_json(&Value::F32(1e-5), 0), serde_json::json!(1e-5));
        assert_eq!(to_json(&Value::F32(f32::NAN), 0), serde_json::json!("NaN"));
        assert_eq!(to_json(&Value::I8(-3), 0), serde_json::json!(-3));
        assert_eq!(to_text(&Value::String("a\nb"), false), "\"a\\nb\"");
        assert_eq!(to_text(&Value::U64(7), false), "7");
        let long = "x".repeat(100);
        assert_eq!(
            to_text(&Value::String(&long), false),
            format!("\"{}\"… (100 chars)", "x".repeat(80))
        );
        assert_eq!(to_text(&Value::String(&long), true).len(), 102);
    }
}
