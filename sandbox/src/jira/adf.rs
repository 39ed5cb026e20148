//! Atlassian Document Format validation
//! (<https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/>): what the
//! v3 routes accept as descriptions and comment bodies.

use serde_json::Value;

/// Why a value is not acceptable ADF.
#[derive(Debug, PartialEq)]
pub enum AdfError {
    /// Not a `{"type":"doc",...}` object at all (e.g. a plain string).
    NotADocument,
    /// A doc, but with invalid content.
    Invalid(String),
}

const BLOCK_NODES: [&str; 15] = [
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "table",
    "mediaSingle",
    "mediaGroup",
    "expand",
    "blockCard",
    "embedCard",
    "taskList",
];

const INLINE_NODES: [&str; 9] = [
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "mediaInline",
    "placeholder",
];

const MARKS: [&str; 10] = [
    "strong",
    "em",
    "code",
    "link",
    "strike",
    "underline",
    "textColor",
    "subsup",
    "backgroundColor",
    "annotation",
];

/// Validate an Atlassian Document Format value.
pub fn validate_adf(v: &Value) -> Result<(), AdfError> {
    let Some(obj) = v.as_object() else {
        return Err(AdfError::NotADocument);
    };
    if obj.get("type").and_then(Value::as_str) != Some("doc") {
        return Err(AdfError::NotADocument);
    }
    if obj.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(AdfError::Invalid("doc.version must be 1".into()));
    }
    let Some(content) = obj.get("content").and_then(Value::as_array) else {
        return Err(AdfError::Invalid("doc.content must be an array".into()));
    };
    for n in content {
        validate_node(n, &BLOCK_NODES, 1)?;
    }
    Ok(())
}

fn allowed_children(ty: &str) -> &'static [&'static str] {
    match ty {
        "paragraph" | "heading" => &INLINE_NODES,
        "bulletList" | "orderedList" => &["listItem"],
        "listItem" => &[
            "paragraph",
            "bulletList",
            "orderedList",
            "codeBlock",
            "mediaSingle",
            "heading",
        ],
        "taskList" => &["taskItem", "taskList"],
        "taskItem" => &INLINE_NODES,
        "codeBlock" => &["text"],
        "blockquote" => &[
            "paragraph",
            "bulletList",
            "orderedList",
            "codeBlock",
            "heading",
        ],
        "panel" => &[
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "blockCard",
            "codeBlock",
            "rule",
        ],
        "table" => &["tableRow"],
        "tableRow" => &["tableHeader", "tableCell"],
        "tableHeader" | "tableCell" | "expand" => &BLOCK_NODES,
        "mediaSingle" | "mediaGroup" => &["media"],
        _ => &[],
    }
}

fn validate_node(n: &Value, allowed: &[&str], depth: usize) -> Result<(), AdfError> {
    if depth > 40 {
        return Err(AdfError::Invalid("document nested too deeply".into()));
    }
    let Some(obj) = n.as_object() else {
        return Err(AdfError::Invalid("node must be an object".into()));
    };
    let Some(ty) = obj.get("type").and_then(Value::as_str) else {
        return Err(AdfError::Invalid("node without type".into()));
    };
    if !allowed.contains(&ty) {
        return Err(AdfError::Invalid(format!(
            "node type '{ty}' not allowed here"
        )));
    }
    match ty {
        "text" => {
            match obj.get("text").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => {}
                _ => {
                    return Err(AdfError::Invalid(
                        "text nodes must have non-empty text".into(),
                    ));
                }
            }
            if let Some(marks) = obj.get("marks") {
                let Some(marks) = marks.as_array() else {
                    return Err(AdfError::Invalid("marks must be an array".into()));
                };
                for m in marks {
                    let mt = m.get("type").and_then(Value::as_str).unwrap_or("");
                    if !MARKS.contains(&mt) {
                        return Err(AdfError::Invalid(format!("unknown mark '{mt}'")));
                    }
                    if mt == "link" && m.pointer("/attrs/href").and_then(Value::as_str).is_none() {
                        return Err(AdfError::Invalid("link mark needs attrs.href".into()));
                    }
                }
            }
            if obj.contains_key("content") {
                return Err(AdfError::Invalid("text nodes have no content".into()));
            }
        }
        "heading" => {
            let level = obj
                .get("attrs")
                .and_then(|a| a.get("level"))
                .and_then(Value::as_i64);
            if !matches!(level, Some(1..=6)) {
                return Err(AdfError::Invalid("heading needs attrs.level 1..6".into()));
            }
        }
        "bulletList" | "orderedList" | "table" | "tableRow" => {
            let empty = obj
                .get("content")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if empty {
                return Err(AdfError::Invalid(format!("{ty} must have content")));
            }
        }
        _ => {}
    }
    if let Some(content) = obj.get("content") {
        let Some(content) = content.as_array() else {
            return Err(AdfError::Invalid("content must be an array".into()));
        };
        let kids = allowed_children(ty);
        for c in content {
            validate_node(c, kids, depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn adf_documents_are_validated() {
        let ok = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi","marks":[{"type":"strong"}]}]}]});
        assert_eq!(validate_adf(&ok), Ok(()));
        assert_eq!(validate_adf(&json!("plain")), Err(AdfError::NotADocument));
        let empty_text = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]});
        assert!(matches!(
            validate_adf(&empty_text),
            Err(AdfError::Invalid(_))
        ));
        let bad_node = json!({"type":"doc","version":1,"content":[{"type":"marquee"}]});
        assert!(matches!(validate_adf(&bad_node), Err(AdfError::Invalid(_))));
        let bad_version = json!({"type":"doc","version":2,"content":[]});
        assert!(matches!(
            validate_adf(&bad_version),
            Err(AdfError::Invalid(_))
        ));
        let text_at_top = json!({"type":"doc","version":1,"content":[{"type":"text","text":"x"}]});
        assert!(matches!(
            validate_adf(&text_at_top),
            Err(AdfError::Invalid(_))
        ));
    }
}
