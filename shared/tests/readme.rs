//! README's connection tables are the connect forms, written from them: a field added to a
//! vendor's settings without saying what it is, or a table edited by hand, fails here.
//! `RISKFLOW_BLESS=1 cargo test -p riskflow --test readme` rewrites the tables in README.md.

use riskflow::connectors::fields;
use riskflow::domain::ConnectionKind;

const BEGIN: &str =
    "<!-- connection fields: written from the connect forms by shared/tests/readme.rs -->";
const END: &str = "<!-- connection fields: end -->";

/// Text safe inside a Markdown table cell (no column break, no HTML tag).
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn tables() -> String {
    let mut out = String::new();
    for kind in ConnectionKind::ALL {
        out.push_str(&format!(
            "\n**{}** (`{}`)\n\n| field | | what it is and where to find it |\n|---|---|---|\n",
            kind.display_name(),
            kind.as_str()
        ));
        for f in fields(kind) {
            let mut notes = Vec::new();
            if f.required {
                notes.push("required".to_string());
            }
            if f.secret {
                notes.push("secret".to_string());
            }
            if let Some(d) = f.default {
                notes.push(format!("default `{d}`"));
            }
            if !f.choices.is_empty() {
                notes.push(format!("one of `{}`", f.choices.join("`, `")));
            }
            out.push_str(&format!(
                "| `{}` ({}) | {} | {} |\n",
                f.name,
                cell(f.label),
                notes.join(", "),
                cell(f.help)
            ));
        }
    }
    out.push('\n');
    out
}

#[test]
fn every_field_says_what_it_is() {
    for kind in ConnectionKind::ALL {
        for f in fields(kind) {
            assert!(
                f.help.trim().len() > 10,
                "{kind}: field '{}' needs a help text saying what it is and where to find it",
                f.name
            );
        }
    }
}

#[test]
fn readme_lists_every_connection_field_as_the_forms_define_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md lacks the markers {BEGIN} … {END}");
    };
    let current = &readme[b + BEGIN.len()..e];
    let wanted = tables();
    if current != wanted {
        if std::env::var("RISKFLOW_BLESS").as_deref() == Ok("1") {
            let fixed = format!("{}{BEGIN}{wanted}{}", &readme[..b], &readme[e..]);
            std::fs::write(path, fixed).unwrap();
        } else {
            panic!(
                "README.md's connection tables differ from the connect forms; run \
                 RISKFLOW_BLESS=1 cargo test -p riskflow --test readme. Wanted:\n{wanted}"
            );
        }
    }
}
