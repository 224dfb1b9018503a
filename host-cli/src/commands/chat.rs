//! `edgellm chat`: a conversation rendered with the model's chat template, kept in the KV
//! cache between turns so each turn only evaluates its new tokens.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::ops::ControlFlow;

use anyhow::{Context, Result, bail};
use clap::Args;
use edgellm_runtime::generate::{Event, StopReason, generate};
use edgellm_runtime::sampler::Sampler;

use crate::chat_template::Message;
use crate::commands::run::{DEFAULT_CTX, SamplingArgs};
use crate::engine::{self, ComputeArgs};
use crate::model_arg::ModelArg;

#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub model: ModelArg,

    /// System message (otherwise the template's default, if it has one)
    #[arg(long = "system", value_name = "TEXT")]
    pub system: Option<String>,

    /// Most tokens per reply
    #[arg(
        short = 'n',
        long = "n-predict",
        value_name = "N",
        default_value_t = 512
    )]
    pub n_predict: usize,

    /// Context size in tokens for the whole conversation [default: 4096, at most the model's]
    #[arg(short = 'c', long = "ctx-size", value_name = "N")]
    pub ctx_size: Option<usize>,

    /// Print each turn's rendered template text and token count to stderr
    #[arg(long = "verbose-prompt")]
    pub verbose_prompt: bool,

    /// Longest message line read from stdin, in bytes; a longer line is refused (and ends
    /// the chat when stdin is not a terminal) instead of being read without bound
    #[arg(
        long = "max-message-bytes",
        value_name = "N",
        default_value_t = 1 << 20
    )]
    pub max_message_bytes: usize,

    /// Parse special-token text typed in messages (`<|im_start|>` becomes that token), as
    /// llama.cpp does. By default only the chat template inserts special tokens: what you
    /// type is spelled out, so a message cannot switch roles or end a turn
    #[arg(long = "parse-special")]
    pub parse_special: bool,

    #[command(flatten)]
    pub sampling: SamplingArgs,

    #[command(flatten)]
    pub compute: ComputeArgs,
}

pub fn run(args: ChatArgs) -> Result<()> {
    let sampler_cfg = args.sampling.config()?;
    let kernels = args.compute.kernel_table()?;
    let pool = args.compute.pool()?;
    let mut file = args.model.open()?;
    let loaded = engine::load(&mut file, kernels)?;
    let (tok, model) = (&loaded.tokenizer, &loaded.model);
    let template = crate::chat_template::for_model(&loaded)?;

    let ctx = args
        .ctx_size
        .unwrap_or(DEFAULT_CTX)
        .min(model.config.context_length);
    let mut state = engine::new_state(model, ctx, 256)?;
    let mut sampler = Sampler::new(sampler_cfg, tok.vocab_size());
    let mut history: Vec<u32> = Vec::with_capacity(ctx);
    let mut messages: Vec<Message> = Vec::new();
    let mut cached_text = String::new(); // the text whose tokens the KV cache holds
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "chat with {} — /clear starts over, /exit or Ctrl-D quits",
            loaded.file.display_name()
        );
    }

    let mut stdin = std::io::stdin().lock();
    loop {
        if interactive {
            eprint!("> ");
        }
        let line = match read_message(&mut stdin, args.max_message_bytes)? {
            Input::End => break,
            Input::Line(line) => line,
            Input::TooLong => {
                let why = format!(
                    "a message longer than {} bytes (raise --max-message-bytes)",
                    args.max_message_bytes
                );
                if !interactive {
                    bail!("stdin: {why}");
                }
                skip_line(&mut stdin)?;
                eprintln!("{why}: not sent");
                continue;
            }
        };
        match line.trim() {
            "" => continue,
            "/exit" | "/quit" => break,
            "/clear" => {
                messages.clear();
                cached_text.clear();
                history.clear();
                state = engine::new_state(model, ctx, 256)?;
                eprintln!("(conversation cleared)");
                continue;
            }
            _ => {}
        }
        if let (true, Some(system)) = (messages.is_empty(), &args.system) {
            messages.push(Message {
                role: "system".into(),
                content: system.clone(),
            });
        }
        messages.push(Message {
            role: "user".into(),
            content: line,
        });
        // The messages' text is tokenized literally (no special tokens) unless --parse-special.
        let (full, contents) = if args.parse_special {
            (template.render(&messages, true)?, Vec::new())
        } else {
            template.render_with_contents(&messages, true)?
        };
        let delta = match full.strip_prefix(cached_text.as_str()) {
            Some(rest) => rest.to_string(),
            None => {
                bail!("the chat template rendered an earlier turn differently; cannot continue")
            }
        };
        let ids = if args.parse_special {
            tok.encode(&delta, state.pos == 0, true)
        } else {
            let skip = cached_text.len();
            let literal: Vec<std::ops::Range<usize>> = contents
                .iter()
                .filter(|r| r.end > skip)
                .map(|r| r.start.max(skip) - skip..r.end - skip)
                .collect();
            tok.encode_with_literals(&delta, state.pos == 0, &literal)
        };
        if args.verbose_prompt {
            eprintln!("[{} new tokens] {delta:?}", ids.len());
        }
        if state.pos + ids.len() + 1 > ctx {
            messages.pop();
            eprintln!(
                "context is full: {} of {ctx} tokens used and this message needs {} more; /clear starts over (or raise -c)",
                state.pos,
                ids.len()
            );
            if !interactive {
                bail!("context is full ({} of {ctx} tokens used)", state.pos);
            }
            continue;
        }
        let room = ctx - state.pos - ids.len();
        let mut reply = String::new();
        let mut last = None;
        let result = pool.install(|| {
            let mut out = std::io::stdout().lock();
            generate(
                model,
                &mut state,
                tok,
                &mut sampler,
                &mut history,
                &ids,
                args.n_predict.min(room),
                &pool,
                |e| {
                    let text = match e {
                        Event::Token { id, text } => {
                            last = Some(id);
                            text
                        }
                        Event::Tail { text } => text,
                        Event::PromptDone => return ControlFlow::Continue(()),
                    };
                    reply.push_str(text);
                    if out
                        .write_all(text.as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                },
            )
        })?;
        println!();
        // The last sampled token has not been evaluated yet: put it in the cache too.
        let mut text = full;
        text.push_str(&reply);
        if let Some(id) = last {
            if tok.is_eog(id) {
                text.push_str(tok.token_piece(id));
            }
            if state.pos < ctx {
                model.forward(&mut state, &[id], &pool)?;
            }
        }
        cached_text = text;
        messages.push(Message {
            role: "assistant".into(),
            content: reply,
        });
        if result.stop == StopReason::ContextFull || state.pos >= ctx {
            eprintln!("context is full ({ctx} tokens): /clear starts over (or raise -c)");
            if !interactive {
                break;
            }
        }
    }
    Ok(())
}

/// One line of stdin, read with a bound.
enum Input {
    Line(String),
    /// The line has more than the cap's bytes (the rest of it is still unread).
    TooLong,
    /// End of input.
    End,
}

/// Read one line of at most `cap` bytes (without its newline). A longer line is reported as
/// [`Input::TooLong`] after `cap + 1` bytes, its rest left unread ([`skip_line`] drops it),
/// so an endless line (stdin from `/dev/zero`) costs `cap` bytes of memory and no more time.
fn read_message(input: &mut impl BufRead, cap: usize) -> Result<Input> {
    let mut buf = Vec::new();
    let n = input
        .by_ref()
        .take(cap as u64 + 1)
        .read_until(b'\n', &mut buf)
        .context("reading stdin")?;
    if n == 0 {
        return Ok(Input::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > cap {
        return Ok(Input::TooLong);
    }
    String::from_utf8(buf).map(Input::Line).map_err(|e| {
        anyhow::anyhow!(
            "stdin: a message is not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Drop the rest of a line in bounded pieces (a terminal's line always ends).
fn skip_line(input: &mut impl BufRead) -> Result<()> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input
            .by_ref()
            .take(1 << 16)
            .read_until(b'\n', &mut buf)
            .context("reading stdin")?;
        if n == 0 || buf.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_with_a_bound() {
        let mut input = std::io::Cursor::new(b"hi\r\nlong line here\nok".to_vec());
        assert!(matches!(read_message(&mut input, 8).unwrap(), Input::Line(l) if l == "hi"));
        assert!(matches!(
            read_message(&mut input, 8).unwrap(),
            Input::TooLong
        ));
        skip_line(&mut input).unwrap();
        assert!(matches!(read_message(&mut input, 8).unwrap(), Input::Line(l) if l == "ok"));
        assert!(matches!(read_message(&mut input, 8).unwrap(), Input::End));
        let mut bad = std::io::Cursor::new(vec![b'a', 0xff, b'\n']);
        assert!(read_message(&mut bad, 8).is_err());
    }
}
