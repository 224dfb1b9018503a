//! Parsing request bodies into checked requests. Every field is read by name, so an error
//! says which field is wrong and why (`max_tokens: expected an integer >= 1, got -5`).
//! Unknown fields are ignored, as most OpenAI-compatible servers do; fields that would change
//! the answer but are not implemented (`n` > 1, `logprobs`, `tools`, penalties, …) are
//! refused by name rather than silently ignored.

use serde_json::{Map, Value};

use super::error::ApiError;

/// Stop sequences one request may give (OpenAI's limit).
pub const MAX_STOP: usize = 4;
/// Longest stop sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 256;

/// One chat message: a role and its text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// What to continue: chat messages (rendered with the model's template), plain text, or
/// token ids.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Chat(Vec<ChatMessage>),
    Text(String),
    Tokens(Vec<u32>),
}

/// Sampling fields as given; `None` takes the server's default (llama.cpp's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub seed: Option<u64>,
}

/// A checked `/v1/chat/completions` or `/v1/completions` request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub model: Option<String>,
    pub prompt: Prompt,
    /// `max_completion_tokens`, else `max_tokens`; `None` = until the context is full.
    pub max_tokens: Option<usize>,
    pub sampling: Sampling,
    pub stop: Vec<String>,
    pub stream: bool,
    /// `stream_options.include_usage`: a last chunk with the token counts.
    pub include_usage: bool,
}

/// A JSON object whose fields are read by name.
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// `body` as a JSON object.
    pub fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid(format!("the body is not valid JSON: {e}")).with_code("invalid_json")
        })?;
        match value {
            Value::Object(map) => Ok(Fields { map }),
            other => Err(ApiError::invalid(format!(
                "the body must be a JSON object, not {}",
                kind(&other)
            ))),
        }
    }

    /// The field, treating `null` as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(wrong(name, "a string", v)),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong(name, "true or false", v)),
        }
    }

    /// A number in `lo..=hi`.
    pub fn number(&self, name: &str, lo: f64, hi: f64) -> Result<Option<f64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if (lo..=hi).contains(&x) => Ok(Some(x)),
                _ => Err(ApiError::invalid_param(
                    name,
                    format!("{name}: expected a number from {lo} to {hi}, got {n}"),
                )),
            },
            Some(v) => Err(wrong(name, "a number", v)),
        }
    }

    /// An integer in `lo..=hi`.
    pub fn integer(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(x) if (lo..=hi).contains(&x) => Ok(Some(x)),
                _ => Err(ApiError::invalid_param(
                    name,
                    format!("{name}: expected an integer from {lo} to {hi}, got {n}"),
                )),
            },
            Some(v) => Err(wrong(name, "an integer", v)),
        }
    }

    /// Token ids: an array of integers below `vocab`.
    pub fn token_ids(&self, name: &str, vocab: usize) -> Result<Option<Vec<u32>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => token_ids(name, v, vocab).map(Some),
        }
    }

    /// Refuse a field that is present with a value other than the one the server implements.
    fn unsupported(&self, name: &str, fine: impl Fn(&Value) -> bool) -> Result<(), ApiError> {
        match self.get(name) {
            Some(v) if !fine(v) => Err(ApiError::invalid_param(
                name,
                format!("{name}: not supported by edgellm serve (got {})", short(v)),
            )),
            _ => Ok(()),
        }
    }
}

fn token_ids(name: &str, v: &Value, vocab: usize) -> Result<Vec<u32>, ApiError> {
    let Value::Array(items) = v else {
        return Err(wrong(name, "an array of token ids", v));
    };
    items
        .iter()
        .map(|x| match x.as_u64() {
            Some(id) if (id as usize) < vocab => Ok(id as u32),
            _ => Err(ApiError::invalid_param(
                name,
                format!(
                    "{name}: {} is not a token id (the vocabulary has {vocab})",
                    short(x)
                ),
            )),
        })
        .collect()
}

/// The JSON kind of a value, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value shortened for an error message.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn wrong(name: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid_param(
        name,
        format!("{name}: expected {expected}, got {}", kind(got)),
    )
}

/// A `/v1/chat/completions` body.
pub fn parse_chat(body: &[u8]) -> Result<GenerationRequest, ApiError> {
    let f = Fields::parse(body)?;
    let messages = match f.get("messages") {
        None => {
            return Err(ApiError::invalid_param(
                "messages",
                "messages: required (an array of {role, content} objects)",
            ));
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ApiError::invalid_param(
                "messages",
                "messages: at least one message is required",
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(wrong("messages", "an array of messages", v)),
    };
    f.unsupported("tools", |v| v.as_array().is_some_and(|a| a.is_empty()))?;
    f.unsupported("tool_choice", |v| v == "none" || v == "auto")?;
    f.unsupported("response_format", |v| {
        v.get("type").is_some_and(|t| t == "text")
    })?;
    f.unsupported("top_logprobs", |v| v == 0)?;
    common(&f, Prompt::Chat(messages))
}

/// A `/v1/completions` body. `prompt` is a string, token ids, or a one-element array of
/// either (one prompt per request).
pub fn parse_completion(body: &[u8], vocab: usize) -> Result<GenerationRequest, ApiError> {
    let f = Fields::parse(body)?;
    let prompt = match f.get("prompt") {
        None => {
            return Err(ApiError::invalid_param(
                "prompt",
                "prompt: required (a string or an array of token ids)",
            ));
        }
        Some(Value::String(s)) => Prompt::Text(s.clone()),
        Some(all @ Value::Array(items)) => match items.as_slice() {
            [Value::String(s)] => Prompt::Text(s.clone()),
            [inner @ Value::Array(_)] => Prompt::Tokens(token_ids("prompt", inner, vocab)?),
            [] => return Err(ApiError::invalid_param("prompt", "prompt: empty array")),
            [Value::Number(_), ..] => Prompt::Tokens(token_ids("prompt", all, vocab)?),
            _ => {
                return Err(ApiError::invalid_param(
                    "prompt",
                    "prompt: one prompt per request (a string or an array of token ids)",
                ));
            }
        },
        Some(v) => return Err(wrong("prompt", "a string or an array of token ids", v)),
    };
    f.unsupported("echo", |v| v == false)?;
    f.unsupported("suffix", |v| v.as_str().is_some_and(str::is_empty))?;
    f.unsupported("best_of", |v| v == 1)?;
    common(&f, prompt)
}

/// One element of `messages`.
fn message(i: usize, m: &Value) -> Result<ChatMessage, ApiError> {
    let at = format!("messages[{i}]");
    let Value::Object(m) = m else {
        return Err(wrong(&at, "an object with role and content", m));
    };
    let role = match m.get("role") {
        Some(Value::String(r)) => r.clone(),
        Some(v) => return Err(wrong(&format!("{at}.role"), "a string", v)),
        None => {
            return Err(ApiError::invalid_param(
                &format!("{at}.role"),
                format!("{at}.role: required"),
            ));
        }
    };
    if !matches!(role.as_str(), "system" | "developer" | "user" | "assistant") {
        return Err(ApiError::invalid_param(
            &format!("{at}.role"),
            format!(
                "{at}.role: \"{}\" is not one of system, developer, user, assistant",
                short_str(&role)
            ),
        ));
    }
    // The template knows `system`; OpenAI's newer name for it is `developer`.
    let role = if role == "developer" {
        "system".to_string()
    } else {
        role
    };
    let content = match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        // Content parts: only text parts, concatenated.
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match (part.get("type"), part.get("text")) {
                    (Some(t), Some(Value::String(s))) if t == "text" => text.push_str(s),
                    _ => {
                        return Err(ApiError::invalid_param(
                            &format!("{at}.content[{j}]"),
                            format!(
                                "{at}.content[{j}]: only {{\"type\": \"text\", \"text\": …}} parts are supported"
                            ),
                        ));
                    }
                }
            }
            text
        }
        Some(v) => return Err(wrong(&format!("{at}.content"), "a string", v)),
    };
    Ok(ChatMessage { role, content })
}

fn short_str(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The fields chat and completions share.
fn common(f: &Fields, prompt: Prompt) -> Result<GenerationRequest, ApiError> {
    let model = f.string("model")?;
    let max_tokens = match f.integer("max_completion_tokens", 1, i64::MAX)? {
        Some(n) => Some(n),
        None => f.integer("max_tokens", 1, i64::MAX)?,
    };
    let sampling = Sampling {
        temperature: f.number("temperature", 0.0, 2.0)?.map(|x| x as f32),
        top_p: f.number("top_p", 0.0, 1.0)?.map(|x| x as f32),
        top_k: f.integer("top_k", 0, 1 << 20)?.map(|x| x as usize),
        min_p: f.number("min_p", 0.0, 1.0)?.map(|x| x as f32),
        repeat_penalty: f.number("repeat_penalty", 0.0, 10.0)?.map(|x| x as f32),
        // Any 64-bit integer; negative seeds keep their bits.
        seed: match f.get("seed") {
            None => None,
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Some(u),
                (None, Some(i)) => Some(i as u64),
                _ => {
                    return Err(ApiError::invalid_param(
                        "seed",
                        format!("seed: expected an integer, got {n}"),
                    ));
                }
            },
            Some(v) => return Err(wrong("seed", "an integer", v)),
        },
    };
    let stop = match f.get("stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong("stop", "a string or an array of strings", other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(wrong("stop", "a string or an array of strings", v)),
    };
    if stop.len() > MAX_STOP {
        return Err(ApiError::invalid_param(
            "stop",
            format!("stop: at most {MAX_STOP} sequences, got {}", stop.len()),
        ));
    }
    if let Some(s) = stop
        .iter()
        .find(|s| s.is_empty() || s.len() > MAX_STOP_BYTES)
    {
        return Err(ApiError::invalid_param(
            "stop",
            format!(
                "stop: each sequence must be 1 to {MAX_STOP_BYTES} bytes, got {}",
                s.len()
            ),
        ));
    }
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.get("stream_options") {
        None => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(wrong("stream_options.include_usage", "true or false", v)),
        },
        Some(v) => return Err(wrong("stream_options", "an object", v)),
    };
    f.unsupported("n", |v| v == 1)?;
    f.unsupported("logprobs", |v| v == false || v == 0)?;
    f.unsupported("logit_bias", |v| {
        v.as_object().is_some_and(|o| o.is_empty())
    })?;
    f.unsupported("frequency_penalty", |v| v == 0 || v == 0.0)?;
    f.unsupported("presence_penalty", |v| v == 0 || v == 0.0)?;
    Ok(GenerationRequest {
        model,
        prompt,
        max_tokens: max_tokens.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        sampling,
        stop,
        stream,
        include_usage,
    })
}

/// A `/tokenize` body: `{"content": TEXT, "add_special": bool, "parse_special": bool}`.
pub fn parse_tokenize(body: &[u8]) -> Result<(String, bool, bool), ApiError> {
    let f = Fields::parse(body)?;
    let content = f
        .string("content")?
        .ok_or_else(|| ApiError::invalid_param("content", "content: required (a string)"))?;
    Ok((
        content,
        f.bool("add_special")?.unwrap_or(false),
        f.bool("parse_special")?.unwrap_or(true),
    ))
}

/// A `/detokenize` body: `{"tokens": [ids]}`.
pub fn parse_detokenize(body: &[u8], vocab: usize) -> Result<Vec<u32>, ApiError> {
    let f = Fields::parse(body)?;
    f.token_ids("tokens", vocab)?
        .ok_or_else(|| ApiError::invalid_param("tokens", "tokens: required (an array of ids)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_err(body: &str) -> ApiError {
        parse_chat(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_full_chat_request_parses() {
        let r = parse_chat(
            br#"{"model":"m","messages":[{"role":"developer","content":"be brief"},
                {"role":"user","content":[{"type":"text","text":"hi"},{"type":"text","text":"!"}]}],
                "max_completion_tokens":7,"max_tokens":99,"temperature":0,"top_p":0.5,
                "seed":-1,"stop":["\n"],"stream":true,"stream_options":{"include_usage":true},
                "n":1,"frequency_penalty":0,"unknown":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(r.model.as_deref(), Some("m"));
        assert_eq!(
            r.prompt,
            Prompt::Chat(vec![
                ChatMessage {
                    role: "system".into(),
                    content: "be brief".into()
                },
                ChatMessage {
                    role: "user".into(),
                    content: "hi!".into()
                },
            ])
        );
        assert_eq!(r.max_tokens, Some(7));
        assert_eq!(r.sampling.temperature, Some(0.0));
        assert_eq!(r.sampling.seed, Some(u64::MAX));
        assert_eq!(r.stop, vec!["\n".to_string()]);
        assert!(r.stream && r.include_usage);
    }

    #[test]
    fn bad_fields_are_named() {
        for (body, needle) in [
            ("", "not valid JSON"),
            ("[1]", "must be a JSON object, not an array"),
            ("{}", "messages: required"),
            (r#"{"messages":[]}"#, "at least one message"),
            (r#"{"messages":"hi"}"#, "messages: expected an array"),
            (
                r#"{"messages":[{"content":"x"}]}"#,
                "messages[0].role: required",
            ),
            (
                r#"{"messages":[{"role":"robot","content":"x"}]}"#,
                "not one of",
            ),
            (
                r#"{"messages":[{"role":"user","content":5}]}"#,
                "messages[0].content: expected a string",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-5}"#,
                "max_tokens: expected an integer from 1",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":"9"}"#,
                "max_tokens: expected an integer, got a string",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":1e30}"#,
                "max_tokens: expected an integer from 1",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#,
                "temperature: expected a number from 0 to 2",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}"#,
                "at most 4",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stop":[""]}"#,
                "1 to 256 bytes",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#,
                "n: not supported",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stream":"yes"}"#,
                "stream: expected true or false",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"tools":[{}]}"#,
                "tools: not supported",
            ),
        ] {
            let e = chat_err(body);
            assert_eq!(e.status, 400, "{body}");
            assert!(e.message.contains(needle), "{body}: {}", e.message);
        }
    }

    #[test]
    fn completion_prompts() {
        let p = |b: &str| parse_completion(b.as_bytes(), 100).map(|r| r.prompt);
        assert_eq!(p(r#"{"prompt":"a"}"#).unwrap(), Prompt::Text("a".into()));
        assert_eq!(p(r#"{"prompt":["a"]}"#).unwrap(), Prompt::Text("a".into()));
        assert_eq!(
            p(r#"{"prompt":[1,2]}"#).unwrap(),
            Prompt::Tokens(vec![1, 2])
        );
        assert_eq!(p(r#"{"prompt":[[3]]}"#).unwrap(), Prompt::Tokens(vec![3]));
        assert!(
            p(r#"{"prompt":[100]}"#)
                .unwrap_err()
                .message
                .contains("not a token id")
        );
        assert!(
            p(r#"{"prompt":["a","b"]}"#)
                .unwrap_err()
                .message
                .contains("one prompt")
        );
        assert!(
            p(r#"{"prompt":"a","echo":true}"#)
                .unwrap_err()
                .message
                .contains("echo")
        );
    }
}
