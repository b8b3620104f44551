//! Splitting special tokens out of the text before pre-tokenization (llama.cpp's
//! `tokenizer_st_partition`): for each special token, longest text first, every text fragment is
//! cut at each occurrence, left to right.

use super::{attr, Tokenizer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

impl Tokenizer {
    pub(crate) fn split_specials<'a>(
        &self,
        text: &'a str,
        parse_special: bool,
    ) -> Vec<Fragment<'a>> {
        let mut frags = Vec::new();
        if text.is_empty() {
            return frags;
        }
        frags.push(Fragment::Text(text));
        let mut next = Vec::new();
        for &id in &self.specials {
            // Control and unknown tokens are only recognised when parsing specials; user-defined
            // tokens always are.
            if !parse_special && self.attrs[id as usize] & (attr::CONTROL | attr::UNKNOWN) != 0 {
                continue;
            }
            let Ok(needle) = std::str::from_utf8(self.strs.get_str(id)) else {
                continue;
            };
            if !frags
                .iter()
                .any(|f| matches!(f, Fragment::Text(t) if t.contains(needle)))
            {
                continue;
            }
            next.clear();
            for &f in &frags {
                let Fragment::Text(mut rest) = f else {
                    next.push(f);
                    continue;
                };
                while let Some(at) = rest.find(needle) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Token(id));
                    rest = &rest[at + needle.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            std::mem::swap(&mut frags, &mut next);
        }
        frags
    }
}
