//! Tokenize and detokenize for the page: `file.tokenizer()` builds a `GgufTokenizer` from the
//! header's `tokenizer.ggml.*` metadata (the header is enough: it works while the weights are
//! still streaming in). Keep the object: building a 128k vocabulary takes tens of milliseconds.

use js_sys::Uint32Array;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::js::{js_error, to_js};
use super::GgufFile;
use crate::tokenizer::{ChatMessage, Tokenizer, TokenizerError};

fn tok_error(e: &TokenizerError) -> JsValue {
    let kind = match e {
        TokenizerError::UnknownTokenId { .. } => "bad_argument",
        _ => "tokenizer",
    };
    js_error(kind, &e.to_string())
}

#[wasm_bindgen]
impl GgufFile {
    /// The file's tokenizer (throws a JS Error of kind `tokenizer` when the vocabulary is missing
    /// or unsupported).
    pub fn tokenizer(&self) -> Result<GgufTokenizer, JsValue> {
        let g = self.header()?;
        Tokenizer::from_gguf(g)
            .map(|inner| GgufTokenizer { inner })
            .map_err(|e| tok_error(&e))
    }
}

#[wasm_bindgen]
pub struct GgufTokenizer {
    inner: Tokenizer,
}

/// One token as the page shows it.
#[derive(Serialize)]
struct TokenJs {
    id: u32,
    /// The token's bytes as text (lossy: a piece may be part of a character).
    text: String,
    /// The token's bytes; `text` is exact when this is valid UTF-8 on its own.
    bytes: Vec<u8>,
    special: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenizerInfoJs {
    kind: &'static str,
    pre: &'static str,
    n_vocab: u32,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eog: Vec<u32>,
    add_bos: bool,
    /// The layout `chatPrompt` builds: "bitnet", "chatml" or "llama3".
    chat_template: &'static str,
}

#[derive(Deserialize)]
struct MessageJs {
    role: String,
    content: String,
}

#[wasm_bindgen]
impl GgufTokenizer {
    /// Token ids of `text`, as llama.cpp's `llama_tokenize(text, addSpecial, parseSpecial)`
    /// (both default to true, as llama-cli does for a prompt).
    pub fn tokenize(
        &self,
        text: &str,
        add_special: Option<bool>,
        parse_special: Option<bool>,
    ) -> Uint32Array {
        let ids = self.inner.encode(
            text,
            add_special.unwrap_or(true),
            parse_special.unwrap_or(true),
        );
        Uint32Array::from(&ids[..])
    }

    /// Text of `ids` (special tokens rendered as their text).
    pub fn detokenize(&self, ids: &[u32]) -> Result<String, JsValue> {
        self.inner.decode(ids).map_err(|e| tok_error(&e))
    }

    /// `[{id, text, bytes, special}]` for each id, for showing a prompt's tokens.
    pub fn pieces(&self, ids: &[u32]) -> Result<JsValue, JsValue> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let mut bytes = Vec::new();
            self.inner
                .token_to_piece(id, true, &mut bytes)
                .map_err(|e| tok_error(&e))?;
            let special = self.inner.token_attr(id).is_some_and(|a| {
                a & (crate::tokenizer::attr::CONTROL | crate::tokenizer::attr::UNKNOWN) != 0
            });
            out.push(TokenJs {
                id,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                bytes,
                special,
            });
        }
        to_js(&out)
    }

    /// `{kind, pre, nVocab, bos, eos, eot, eog, addBos}`.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let t = &self.inner;
        to_js(&TokenizerInfoJs {
            kind: match t.kind() {
                crate::tokenizer::VocabKind::Bpe => "gpt2",
                crate::tokenizer::VocabKind::Spm => "llama",
            },
            pre: match t.pre_tokenizer() {
                crate::tokenizer::PreTokenizer::Default => "default",
                crate::tokenizer::PreTokenizer::Llama3 => "llama3",
                crate::tokenizer::PreTokenizer::Gpt2 => "gpt-2",
                crate::tokenizer::PreTokenizer::Smollm => "smollm",
            },
            n_vocab: t.n_vocab() as u32,
            bos: t.bos(),
            eos: t.eos(),
            eot: t.eot(),
            eog: t.eog_ids().to_vec(),
            add_bos: t.add_bos(),
            chat_template: t.chat.name(),
        })
    }

    /// True for tokens that end generation (EOS, EOT, ...).
    #[wasm_bindgen(js_name = isEog)]
    pub fn is_eog(&self, id: u32) -> bool {
        self.inner.is_eog(id)
    }

    /// The chat prompt the file's template (`chatTemplate`: bitnet, chatml or llama3) builds from
    /// `[{role, content}]`, ending with the assistant prefix when `addAssistant` (default true).
    /// Tokenize it with the defaults.
    #[wasm_bindgen(js_name = chatPrompt)]
    pub fn chat_prompt(
        &self,
        messages: JsValue,
        add_assistant: Option<bool>,
    ) -> Result<String, JsValue> {
        let m: Vec<MessageJs> = serde_wasm_bindgen::from_value(messages).map_err(|e| {
            js_error(
                "bad_argument",
                &format!("chat messages: {e} (expected [{{role, content}}])"),
            )
        })?;
        let m: Vec<ChatMessage> = m
            .into_iter()
            .map(|m| ChatMessage {
                role: m.role,
                content: m.content,
            })
            .collect();
        Ok(self.inner.chat.format(&m, add_assistant.unwrap_or(true)))
    }
}
