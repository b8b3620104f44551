//! Token ids back to bytes and text (llama.cpp's `token_to_piece` / `llama_detokenize`), and a
//! streaming decoder that never emits a partial UTF-8 character.

use super::unicode::char_to_byte;
use super::{attr, Tokenizer, TokenizerError, VocabKind};

impl Tokenizer {
    /// The bytes a token stands for. Control and unknown tokens give their text when `special`,
    /// nothing otherwise; unused tokens give nothing. A piece may be part of a UTF-8 character.
    pub fn token_to_piece(
        &self,
        id: u32,
        special: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), TokenizerError> {
        let a = self.token_attr(id).ok_or(TokenizerError::UnknownTokenId {
            id,
            n_vocab: self.n_tokens,
        })?;
        let text = self.strs.get_str(id);
        if a & (attr::CONTROL | attr::UNKNOWN) != 0 {
            if special {
                out.extend_from_slice(text);
            }
            return Ok(());
        }
        if a & attr::USER_DEFINED != 0 {
            out.extend_from_slice(text);
            return Ok(());
        }
        let text = std::str::from_utf8(text).unwrap_or("");
        match self.kind {
            VocabKind::Bpe if a & (attr::NORMAL | attr::BYTE) != 0 => {
                // GPT-2 characters back to bytes; a character outside the map stays as it is.
                for c in text.chars() {
                    match char_to_byte(c) {
                        Some(b) => out.push(b),
                        None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
            }
            VocabKind::Spm if a & attr::NORMAL != 0 => {
                for c in text.chars() {
                    let c = if c == '\u{2581}' { ' ' } else { c };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
            }
            VocabKind::Spm if a & attr::BYTE != 0 => {
                // "<0xNN>"
                if let Some(b) = text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(b);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The bytes of a token sequence, specials rendered when `special`. Like llama.cpp's
    /// `llama_detokenize`, an SPM vocabulary with `add_space_prefix` loses the leading space of
    /// the first token (the one encoding added).
    pub fn decode_bytes(&self, ids: &[u32], special: bool) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for (i, &id) in ids.iter().enumerate() {
            let start = out.len();
            self.token_to_piece(id, special, &mut out)?;
            if i == 0
                && self.kind == VocabKind::Spm
                && self.add_space_prefix
                && out.get(start) == Some(&b' ')
            {
                out.remove(start);
            }
        }
        Ok(out)
    }

    /// `decode_bytes` with specials rendered, as text (an incomplete trailing character becomes
    /// U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let bytes = self.decode_bytes(ids, true)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    pub fn stream_decoder(&self, special: bool) -> StreamDecoder {
        StreamDecoder {
            pending: Vec::new(),
            special,
        }
    }
}

/// Turns tokens into text as they are generated. A token can end inside a multi-byte character
/// (byte-level BPE splits emoji and CJK across tokens): those bytes are held until the character
/// completes. Bytes that can never form a character come out as U+FFFD; `flush` ends the stream.
pub struct StreamDecoder {
    pending: Vec<u8>,
    special: bool,
}

impl StreamDecoder {
    /// The text that became complete with this token (possibly empty).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Result<String, TokenizerError> {
        tok.token_to_piece(id, self.special, &mut self.pending)?;
        let mut text = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    text.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    text.push_str(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        // Invalid bytes: they will never complete.
                        Some(n) => {
                            text.push('\u{FFFD}');
                            rest = &bad[n..];
                        }
                        // An incomplete character at the end: hold it.
                        None => {
                            rest = bad;
                            break;
                        }
                    }
                }
            }
        }
        let keep = rest.len();
        self.pending.drain(..self.pending.len() - keep);
        Ok(text)
    }

    /// Bytes still held (an incomplete character).
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Ends the stream: an incomplete character left over becomes U+FFFD.
    pub fn flush(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}
