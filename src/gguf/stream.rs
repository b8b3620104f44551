//! Parsing a file while it streams in.
//!
//! The caller owns one buffer of the file's size and fills it front to back. After each chunk it
//! asks `poll`: the header is re-parsed only once enough new bytes have arrived (at least what the
//! last attempt needed, and at least twice the bytes of the last attempt), so tiny chunks cost
//! O(n log n) parsing, not O(n^2).

use super::error::GgufError;
use super::reader::Gguf;

#[derive(Debug)]
pub struct HeaderStream {
    file_len: u64,
    next_attempt_at: u64,
    result: Option<Result<Gguf, GgufError>>,
}

impl HeaderStream {
    pub fn new(file_len: u64) -> Self {
        HeaderStream {
            file_len,
            next_attempt_at: 0,
            result: None,
        }
    }

    /// Tries to parse once `loaded` bytes of the file are in `buf[..loaded]`. Returns the parsed
    /// header or its final error once known; `None` while more bytes are needed.
    pub fn poll(&mut self, buf: &[u8]) -> Option<&Result<Gguf, GgufError>> {
        if self.result.is_none() {
            let loaded = buf.len() as u64;
            if loaded >= self.next_attempt_at || loaded >= self.file_len {
                match Gguf::parse_prefix(buf, self.file_len) {
                    Err(GgufError::NeedMore { needed }) => {
                        self.next_attempt_at =
                            needed.max(loaded.saturating_mul(2)).min(self.file_len);
                    }
                    r => self.result = Some(r),
                }
            }
        }
        self.result.as_ref()
    }

    pub fn take(self) -> Option<Result<Gguf, GgufError>> {
        self.result
    }

    pub fn file_len(&self) -> u64 {
        self.file_len
    }
}
