//! The chat prompt of BitNet b1.58 2B-4T as bitnet.cpp builds it (its "bitnet" chat template):
//! `System: {sys}` with no separator, each user turn `User: {msg}<|eot_id|>`, each assistant turn
//! `Assistant: {msg}<|eot_id|>`, and `Assistant: ` to ask for the reply. The result is encoded
//! with `add_special = true, parse_special = true`, so BOS is prepended and `<|eot_id|>` becomes
//! its control token. Raw completion is just the text, encoded the same way.

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

/// The prompt text for `messages`; with `add_assistant`, ends with the assistant prefix. Messages
/// with another role are skipped, as the template does.
pub fn format_chat(messages: &[ChatMessage], add_assistant: bool) -> String {
    let mut s = String::new();
    for m in messages {
        match m.role.as_str() {
            "system" => {
                s.push_str("System: ");
                s.push_str(&m.content);
            }
            "user" => {
                s.push_str("User: ");
                s.push_str(&m.content);
                s.push_str("<|eot_id|>");
            }
            "assistant" => {
                s.push_str("Assistant: ");
                s.push_str(&m.content);
                s.push_str("<|eot_id|>");
            }
            _ => {}
        }
    }
    if add_assistant {
        s.push_str("Assistant: ");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn bitnet_chat_layout() {
        let m = [
            ChatMessage::new("system", "Be brief."),
            ChatMessage::new("user", "Hi"),
            ChatMessage::new("assistant", "Hello."),
            ChatMessage::new("user", "2+2?"),
        ];
        assert_eq!(
            format_chat(&m, true),
            "System: Be brief.User: Hi<|eot_id|>Assistant: Hello.<|eot_id|>User: 2+2?<|eot_id|>Assistant: "
        );
        assert_eq!(format_chat(&m[1..2], false), "User: Hi<|eot_id|>");
    }
}
