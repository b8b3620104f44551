//! Chat prompts, in the layouts the reference engines build without a Jinja interpreter (they
//! match the file's `tokenizer.chat_template` against known templates). The result is encoded
//! with `add_special = true, parse_special = true`, so BOS is prepended and the turn markers
//! become their control tokens. Raw completion is just the text, encoded the same way.
//!
//! - `Bitnet`: BitNet b1.58 2B-4T as bitnet.cpp builds it: `System: {sys}` with no separator,
//!   each user turn `User: {msg}<|eot_id|>`, each assistant turn `Assistant: {msg}<|eot_id|>`,
//!   and `Assistant: ` to ask for the reply.
//! - `ChatMl` (SmolLM2 and others; llama.cpp's fallback): `<|im_start|>{role}\n{msg}<|im_end|>\n`
//!   per turn, `<|im_start|>assistant\n` to ask for the reply. No default system turn (llama.cpp
//!   does not add the one some Jinja templates do).
//! - `Llama3`: `<|start_header_id|>{role}<|end_header_id|>\n\n{msg, trimmed}<|eot_id|>` per turn,
//!   `<|start_header_id|>assistant<|end_header_id|>\n\n` to ask for the reply.

use serde::Serialize;

use crate::gguf::Gguf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// "system", "user" or "assistant".
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatTemplate {
    Bitnet,
    ChatMl,
    Llama3,
}

impl ChatTemplate {
    /// The template of a file: recognized from `tokenizer.chat_template` by its markers; without
    /// one (or an unknown one), BitNet's for the `bitnet-*` archs and ChatML otherwise.
    pub fn from_gguf(g: &Gguf) -> ChatTemplate {
        ChatTemplate::detect(
            g.get_str("tokenizer.chat_template"),
            g.architecture().unwrap_or(""),
        )
    }

    pub fn detect(template: Option<&str>, arch: &str) -> ChatTemplate {
        let t = template.unwrap_or("");
        if t.contains("<|im_start|>") {
            ChatTemplate::ChatMl
        } else if t.contains("<|start_header_id|>") && t.contains("<|end_header_id|>") {
            ChatTemplate::Llama3
        } else if (t.contains("User: ") && t.contains("Assistant: ")) || arch.starts_with("bitnet")
        {
            ChatTemplate::Bitnet
        } else {
            ChatTemplate::ChatMl
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChatTemplate::Bitnet => "bitnet",
            ChatTemplate::ChatMl => "chatml",
            ChatTemplate::Llama3 => "llama3",
        }
    }

    /// The prompt text for `messages`; with `add_assistant`, ends with the assistant prefix.
    /// The BitNet layout has no other roles and skips them, as bitnet.cpp does.
    pub fn format(self, messages: &[ChatMessage], add_assistant: bool) -> String {
        let mut s = String::new();
        for m in messages {
            let (role, content) = (m.role.as_str(), m.content.as_str());
            match self {
                ChatTemplate::Bitnet => {
                    let (prefix, end) = match role {
                        "system" => ("System: ", ""),
                        "user" => ("User: ", "<|eot_id|>"),
                        "assistant" => ("Assistant: ", "<|eot_id|>"),
                        _ => continue,
                    };
                    s.push_str(prefix);
                    s.push_str(content);
                    s.push_str(end);
                }
                ChatTemplate::ChatMl => {
                    s.push_str(&format!("<|im_start|>{role}\n{content}<|im_end|>\n"));
                }
                ChatTemplate::Llama3 => s.push_str(&format!(
                    "<|start_header_id|>{role}<|end_header_id|>\n\n{}<|eot_id|>",
                    content.trim()
                )),
            }
        }
        if add_assistant {
            s.push_str(match self {
                ChatTemplate::Bitnet => "Assistant: ",
                ChatTemplate::ChatMl => "<|im_start|>assistant\n",
                ChatTemplate::Llama3 => "<|start_header_id|>assistant<|end_header_id|>\n\n",
            });
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn turns() -> [ChatMessage; 4] {
        [
            ChatMessage::new("system", "Be brief."),
            ChatMessage::new("user", "Hi"),
            ChatMessage::new("assistant", "Hello."),
            ChatMessage::new("user", " 2+2? "),
        ]
    }

    #[test]
    fn bitnet_chat_layout() {
        let m = turns();
        assert_eq!(
            ChatTemplate::Bitnet.format(&m, true),
            "System: Be brief.User: Hi<|eot_id|>Assistant: Hello.<|eot_id|>User:  2+2? <|eot_id|>Assistant: "
        );
        assert_eq!(
            ChatTemplate::Bitnet.format(&m[1..2], false),
            "User: Hi<|eot_id|>"
        );
    }

    #[test]
    fn chatml_and_llama3_layouts() {
        let m = turns();
        assert_eq!(
            ChatTemplate::ChatMl.format(&m, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n 2+2? <|im_end|>\n\
             <|im_start|>assistant\n"
        );
        assert_eq!(
            ChatTemplate::Llama3.format(&m[2..], true),
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn detection_by_markers_then_arch() {
        use ChatTemplate::*;
        let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] }}";
        let llama3 = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}";
        let bitnet = "{% if message['role'] == 'user' %}{{ 'User: ' + content }}{% else %}{{ 'Assistant: ' }}";
        assert_eq!(ChatTemplate::detect(Some(chatml), "llama"), ChatMl);
        assert_eq!(ChatTemplate::detect(Some(llama3), "llama"), Llama3);
        assert_eq!(ChatTemplate::detect(Some(bitnet), "llama"), Bitnet);
        assert_eq!(ChatTemplate::detect(Some(chatml), "bitnet-b1.58"), ChatMl);
        assert_eq!(ChatTemplate::detect(None, "bitnet-b1.58"), Bitnet);
        assert_eq!(ChatTemplate::detect(None, "bitnet-25"), Bitnet);
        assert_eq!(
            ChatTemplate::detect(Some("{{ unknown }}"), "bitnet"),
            Bitnet
        );
        assert_eq!(ChatTemplate::detect(None, "llama"), ChatMl);
        assert_eq!(ChatTemplate::detect(Some("{{ unknown }}"), "llama"), ChatMl);
    }
}
