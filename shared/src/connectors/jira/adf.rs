//! A small builder for Atlassian Document Format (ADF), the rich-text JSON Jira Cloud v3
//! requires for descriptions and comments.
//!
//! It is safe for any user text: it never emits an empty `text` node (empty strings are
//! skipped, and a paragraph, heading, list item or list left with no text is dropped); it
//! strips control characters except `\n` and `\t` (`\r\n` and `\r` become `\n`); newlines in
//! paragraphs become `hardBreak` nodes, in headings spaces, and stay as they are in code
//! blocks; links only keep `http`, `https` and `mailto` targets (anything else becomes plain
//! text); and the document's text is capped at [`MAX_TEXT_CHARS`] characters, after which a
//! final "(truncated)" paragraph says so.
//!
//! ```
//! use riskflow::connectors::jira::adf::{Doc, Paragraph};
//! let doc = Doc::new()
//!     .heading(2, "Incydr alert")
//!     .paragraph(Paragraph::new().text("Actor: ").strong("jdoe@example.com"))
//!     .bullet_list([Paragraph::new().text("file.txt"), Paragraph::new().code("a/b")])
//!     .rule()
//!     .code_block("raw\nlog", None);
//! assert_eq!(doc.to_json()["type"], "doc");
//! ```

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

/// The most characters of text one document carries (Jira caps a rich-text field at 32,767
/// characters of its storage form; this leaves room for the markup).
pub const MAX_TEXT_CHARS: usize = 30_000;

/// The longest link target kept.
const MAX_HREF_CHARS: usize = 2_000;

/// Shown in table cells that would otherwise be empty.
const EMPTY_CELL: &str = "-";

/// An inline mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Strong,
    Em,
    Code,
    /// A checked `http`, `https` or `mailto` target.
    Link(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inline {
    Text(String, Option<Mark>),
    HardBreak,
}

/// Inline content for a paragraph, a list item or a table cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph {
    inlines: Vec<Inline>,
}

/// Remove control characters except `\n` and `\t`; `\r\n` and lone `\r` become `\n`.
pub fn sanitize(s: &str) -> String {
    let normalised = s.replace("\r\n", "\n").replace('\r', "\n");
    normalised
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect()
}

/// One line: control characters and newlines become spaces, runs of whitespace one space.
pub fn single_line(s: &str) -> String {
    sanitize(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn checked_href(href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty()
        || href.chars().count() > MAX_HREF_CHARS
        || href.chars().any(char::is_control)
    {
        return None;
    }
    let url = url::Url::parse(href).ok()?;
    matches!(url.scheme(), "http" | "https" | "mailto").then(|| url.to_string())
}

impl Paragraph {
    pub fn new() -> Self {
        Paragraph::default()
    }

    fn push(mut self, s: &str, mark: Option<Mark>) -> Self {
        let clean = sanitize(s);
        for (i, line) in clean.split('\n').enumerate() {
            if i > 0 {
                self.inlines.push(Inline::HardBreak);
            }
            if !line.is_empty() {
                self.inlines
                    .push(Inline::Text(line.to_string(), mark.clone()));
            }
        }
        self
    }

    /// Plain text; newlines become line breaks.
    pub fn text(self, s: &str) -> Self {
        self.push(s, None)
    }

    pub fn strong(self, s: &str) -> Self {
        self.push(s, Some(Mark::Strong))
    }

    pub fn em(self, s: &str) -> Self {
        self.push(s, Some(Mark::Em))
    }

    /// Inline code.
    pub fn code(self, s: &str) -> Self {
        self.push(s, Some(Mark::Code))
    }

    /// A link; a target that is not `http`, `https` or `mailto` leaves plain text. An empty
    /// text shows the target.
    pub fn link(self, s: &str, href: &str) -> Self {
        match checked_href(href) {
            Some(h) if sanitize(s).trim().is_empty() => {
                let shown = h.clone();
                self.push(&shown, Some(Mark::Link(h)))
            }
            Some(h) => self.push(s, Some(Mark::Link(h))),
            None => self.push(s, None),
        }
    }

    /// Whether it has no text (line breaks alone do not count).
    pub fn is_empty(&self) -> bool {
        !self.inlines.iter().any(|i| matches!(i, Inline::Text(..)))
    }
}

impl From<&str> for Paragraph {
    fn from(s: &str) -> Self {
        Paragraph::new().text(s)
    }
}

impl From<String> for Paragraph {
    fn from(s: String) -> Self {
        Paragraph::new().text(&s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Paragraph(Vec<Inline>),
    Heading(u8, String),
    BulletList(Vec<Vec<Inline>>),
    CodeBlock(Option<String>, String),
    Rule,
    Table(bool, Vec<Vec<Vec<Inline>>>),
}

/// An ADF document under construction. Serializes as `{"type":"doc","version":1,…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    blocks: Vec<Node>,
    /// Characters of text used so far.
    used: usize,
    truncated: bool,
}

impl Doc {
    pub fn new() -> Self {
        Doc::default()
    }

    /// A document of one paragraph of plain text.
    pub fn plain(text: &str) -> Self {
        Doc::new().text(text)
    }

    /// Whether nothing visible was added.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether text was cut at [`MAX_TEXT_CHARS`].
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Take up to the remaining budget of `s`.
    fn take(&mut self, s: &str) -> Option<String> {
        let left = MAX_TEXT_CHARS.saturating_sub(self.used);
        if left == 0 {
            self.truncated = true;
            return None;
        }
        let n = s.chars().count();
        if n <= left {
            self.used += n;
            Some(s.to_string())
        } else {
            self.truncated = true;
            self.used = MAX_TEXT_CHARS;
            Some(s.chars().take(left).collect())
        }
    }

    /// Apply the budget and drop leading/trailing breaks; `None` when no text is left.
    fn inlines(&mut self, p: Paragraph) -> Option<Vec<Inline>> {
        let mut out = Vec::with_capacity(p.inlines.len());
        for inline in p.inlines {
            match inline {
                Inline::HardBreak => out.push(Inline::HardBreak),
                Inline::Text(t, m) => match self.take(&t) {
                    Some(t) if !t.is_empty() => out.push(Inline::Text(t, m)),
                    _ => break,
                },
            }
        }
        while matches!(out.last(), Some(Inline::HardBreak)) {
            out.pop();
        }
        let first_text = out.iter().position(|i| matches!(i, Inline::Text(..)))?;
        out.drain(..first_text);
        Some(out)
    }

    /// A paragraph; dropped when it has no text.
    pub fn paragraph(mut self, p: Paragraph) -> Self {
        if let Some(inlines) = self.inlines(p) {
            self.blocks.push(Node::Paragraph(inlines));
        }
        self
    }

    /// A paragraph of plain text (newlines become line breaks).
    pub fn text(self, s: &str) -> Self {
        self.paragraph(Paragraph::new().text(s))
    }

    /// A heading (level clamped to 1..=6) on one line; dropped when empty.
    pub fn heading(mut self, level: u8, s: &str) -> Self {
        let line = single_line(s);
        if line.is_empty() {
            return self;
        }
        if let Some(t) = self.take(&line)
            && !t.is_empty()
        {
            self.blocks.push(Node::Heading(level.clamp(1, 6), t));
        }
        self
    }

    /// A bulleted list, one paragraph per item; empty items are dropped, and so is a list
    /// with no items left.
    pub fn bullet_list<I, P>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<Paragraph>,
    {
        let mut list = Vec::new();
        for item in items {
            if let Some(inlines) = self.inlines(item.into()) {
                list.push(inlines);
            }
        }
        if !list.is_empty() {
            self.blocks.push(Node::BulletList(list));
        }
        self
    }

    /// A code block (newlines kept); dropped when empty. The language is kept only when it
    /// is a plain identifier like `json`.
    pub fn code_block(mut self, s: &str, language: Option<&str>) -> Self {
        let clean = sanitize(s);
        if clean.is_empty() {
            return self;
        }
        let language = language
            .filter(|l| {
                !l.is_empty()
                    && l.len() <= 32
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+#-_.".contains(c))
            })
            .map(str::to_string);
        if let Some(t) = self.take(&clean)
            && !t.is_empty()
        {
            self.blocks.push(Node::CodeBlock(language, t));
        }
        self
    }

    /// A horizontal rule.
    pub fn rule(mut self) -> Self {
        self.blocks.push(Node::Rule);
        self
    }

    /// A table; rows are padded to the widest, and empty cells show `-`. With `header_row`
    /// the first row uses header cells. Dropped when there are no cells.
    pub fn table<R, C>(mut self, rows: R, header_row: bool) -> Self
    where
        R: IntoIterator<Item = C>,
        C: IntoIterator<Item = Paragraph>,
    {
        let mut out: Vec<Vec<Vec<Inline>>> = Vec::new();
        for row in rows {
            let mut cells = Vec::new();
            for cell in row {
                let inlines = self
                    .inlines(cell)
                    .unwrap_or_else(|| vec![Inline::Text(EMPTY_CELL.into(), None)]);
                cells.push(inlines);
            }
            if !cells.is_empty() {
                out.push(cells);
            }
        }
        let width = out.iter().map(Vec::len).max().unwrap_or(0);
        if width == 0 {
            return self;
        }
        for row in &mut out {
            while row.len() < width {
                row.push(vec![Inline::Text(EMPTY_CELL.into(), None)]);
            }
        }
        self.blocks.push(Node::Table(header_row, out));
        self
    }

    /// A two-column table of labels (bold) and values.
    pub fn key_values<'a, I>(self, rows: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let rows: Vec<Vec<Paragraph>> = rows
            .into_iter()
            .map(|(k, v)| vec![Paragraph::new().strong(k), Paragraph::new().text(v)])
            .collect();
        self.table(rows, false)
    }

    /// The ADF JSON.
    pub fn to_json(&self) -> Value {
        let mut content: Vec<Value> = self.blocks.iter().map(block_json).collect();
        if self.truncated {
            content.push(json!({"type":"paragraph","content":[
                {"type":"text","text":"(truncated)","marks":[{"type":"em"}]}]}));
        }
        json!({"type": "doc", "version": 1, "content": content})
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

fn inline_json(i: &Inline) -> Value {
    match i {
        Inline::HardBreak => json!({"type": "hardBreak"}),
        Inline::Text(t, None) => json!({"type": "text", "text": t}),
        Inline::Text(t, Some(m)) => {
            let mark = match m {
                Mark::Strong => json!({"type": "strong"}),
                Mark::Em => json!({"type": "em"}),
                Mark::Code => json!({"type": "code"}),
                Mark::Link(href) => json!({"type": "link", "attrs": {"href": href}}),
            };
            json!({"type": "text", "text": t, "marks": [mark]})
        }
    }
}

fn paragraph_json(inlines: &[Inline]) -> Value {
    json!({"type": "paragraph", "content": inlines.iter().map(inline_json).collect::<Vec<_>>()})
}

fn block_json(b: &Node) -> Value {
    match b {
        Node::Paragraph(inlines) => paragraph_json(inlines),
        Node::Heading(level, text) => json!({
            "type": "heading", "attrs": {"level": level},
            "content": [{"type": "text", "text": text}]
        }),
        Node::BulletList(items) => json!({
            "type": "bulletList",
            "content": items.iter().map(|i| json!({"type": "listItem", "content": [paragraph_json(i)]})).collect::<Vec<_>>()
        }),
        Node::CodeBlock(language, text) => {
            let mut v = json!({"type": "codeBlock", "content": [{"type": "text", "text": text}]});
            if let Some(l) = language {
                v["attrs"] = json!({"language": l});
            }
            v
        }
        Node::Rule => json!({"type": "rule"}),
        Node::Table(header_row, rows) => json!({
            "type": "table",
            "attrs": {"isNumberColumnEnabled": false, "layout": "default"},
            "content": rows.iter().enumerate().map(|(r, cells)| {
                let cell_type = if *header_row && r == 0 { "tableHeader" } else { "tableCell" };
                json!({"type": "tableRow", "content": cells.iter().map(|c| json!({
                    "type": cell_type, "attrs": {}, "content": [paragraph_json(c)]
                })).collect::<Vec<_>>()})
            }).collect::<Vec<_>>()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_strings_never_become_text_nodes_and_empty_blocks_are_dropped() {
        let doc = Doc::new()
            .text("")
            .heading(1, " \n ")
            .paragraph(Paragraph::new().strong("").text("\n\n"))
            .bullet_list(["", "\u{7}"])
            .code_block("", None);
        assert!(doc.is_empty());
        assert_eq!(
            doc.to_json(),
            json!({"type":"doc","version":1,"content":[]})
        );
    }

    #[test]
    fn newlines_become_hard_breaks_and_control_characters_go() {
        let doc = Doc::plain("a\r\nb\u{0}\u{1b}[31m\n\nc\t");
        assert_eq!(
            doc.to_json()["content"][0],
            json!({"type":"paragraph","content":[
                {"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b[31m"},
                {"type":"hardBreak"},{"type":"hardBreak"},{"type":"text","text":"c\t"}]})
        );
    }

    #[test]
    fn links_to_unsafe_schemes_become_plain_text() {
        let doc = Doc::new().paragraph(
            Paragraph::new()
                .link("ok", "https://example.com/a?b=c")
                .link("bad", "javascript:alert(1)"),
        );
        let c = &doc.to_json()["content"][0]["content"];
        assert_eq!(
            c[0]["marks"][0]["attrs"]["href"],
            "https://example.com/a?b=c"
        );
        assert_eq!(c[1], json!({"type":"text","text":"bad"}));
    }

    #[test]
    fn long_text_is_capped_and_marked_truncated() {
        let doc = Doc::plain(&"x".repeat(MAX_TEXT_CHARS + 10)).text("more");
        assert!(doc.is_truncated());
        let v = doc.to_json();
        assert_eq!(
            v["content"][0]["content"][0]["text"]
                .as_str()
                .unwrap()
                .len(),
            MAX_TEXT_CHARS
        );
        assert_eq!(v["content"].as_array().unwrap().len(), 2);
        assert_eq!(v["content"][1]["content"][0]["text"], "(truncated)");
    }

    #[test]
    fn tables_are_rectangular_and_never_have_empty_cells() {
        let doc = Doc::new().table(
            vec![
                vec![Paragraph::new().text("h1"), Paragraph::new().text("h2")],
                vec![Paragraph::new().text("")],
            ],
            true,
        );
        let t = &doc.to_json()["content"][0];
        assert_eq!(t["content"][0]["content"][0]["type"], "tableHeader");
        assert_eq!(t["content"][1]["content"].as_array().unwrap().len(), 2);
        assert_eq!(
            t["content"][1]["content"][0]["content"][0]["content"][0]["text"],
            "-"
        );
    }
}
