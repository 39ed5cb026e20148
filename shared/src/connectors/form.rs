//! What a connection kind asks for: its form [`Field`]s (what the Data Sources page shows and
//! `PUT /connections/{kind}` validates), and [`parse`], which reads a stored connection's
//! settings and secret into the vendor's typed `Settings`. Each vendor writes its fields, with
//! their defaults, once, in its `settings.rs`; a missing field takes the default written there.

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// An https URL (checked by the outbound-address guard).
    Url,
    Text,
    /// Multi-line text (PEM certificates).
    Multiline,
    Integer,
    Boolean,
    /// Comma-separated values, stored as a list of strings.
    List,
    /// One of `choices`.
    Choice,
}

/// One field of a connection form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub secret: bool,
    pub required: bool,
    pub help: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<&'static str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub choices: &'static [&'static str],
    /// Values the form offers for a free-text field (any other value is accepted too).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub suggestions: &'static [&'static str],
}

impl Field {
    /// A field with no default and no choices.
    pub const fn new(
        name: &'static str,
        label: &'static str,
        ty: FieldType,
        secret: bool,
        required: bool,
        help: &'static str,
    ) -> Field {
        Field {
            name,
            label,
            ty,
            secret,
            required,
            help,
            default: None,
            choices: &[],
            suggestions: &[],
        }
    }

    /// The same field with a default (the value a missing field takes).
    pub const fn default(mut self, default: &'static str) -> Field {
        self.default = Some(default);
        self
    }

    /// The same field offering `suggestions` (and accepting any other value).
    pub const fn suggestions(mut self, suggestions: &'static [&'static str]) -> Field {
        self.suggestions = suggestions;
        self
    }

    /// The same field restricted to `choices`.
    pub const fn choices(mut self, choices: &'static [&'static str]) -> Field {
        self.choices = choices;
        self
    }
}

/// Why a stored connection cannot be read into its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the {} '{name}' is missing", if *.secret { "credential" } else { "setting" })]
    Missing { name: &'static str, secret: bool },
    #[error("the setting '{name}' {problem}")]
    Invalid {
        name: &'static str,
        problem: &'static str,
    },
    /// The settings do not fit the vendor's `Settings` (a field the form has and the type lacks).
    #[error("the settings cannot be read: {0}")]
    Shape(String),
}

/// A vendor's typed settings: its form, read from a stored connection, and what it connects.
pub trait VendorSettings: DeserializeOwned {
    /// The connect form's fields, with their defaults.
    const FIELDS: &'static [Field];
    /// What [`VendorSettings::connect`] builds: the client in the role it plays.
    type Built;

    /// Read a stored connection's settings and secret fields.
    fn read(
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Self, SettingsError> {
        parse(Self::FIELDS, settings, secrets)
    }

    /// These settings with what the connection's last successful verification learned and
    /// stored ([`crate::ports::Verified::facts`]). Most vendors learn nothing.
    fn with_facts(self, _facts: &Map<String, Value>) -> Self {
        self
    }

    /// Build the vendor's client with these settings.
    fn connect(
        &self,
        opts: &crate::http::ClientOptions,
    ) -> Result<Self::Built, crate::ports::ConnectorError>;
}

/// Read a connection's stored settings and secret fields into `T`, field by field as `fields`
/// says: a missing or empty field takes its default, an optional list is empty, a required one
/// is an error naming it. Values are read as the connect route stores them and also leniently
/// (a number as text, a list as comma-separated text), so settings written by older versions
/// stay readable.
pub fn parse<T: DeserializeOwned>(
    fields: &'static [Field],
    settings: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Result<T, SettingsError> {
    let mut out = Map::new();
    for f in fields {
        let stored = if f.secret {
            secrets.get(f.name)
        } else {
            settings.get(f.name).or_else(|| secrets.get(f.name))
        }
        .filter(|v| !v.is_null() && v.as_str() != Some(""));
        let value = match (stored, f.default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => Value::String(d.to_string()),
            (None, None) if f.required => {
                return Err(SettingsError::Missing {
                    name: f.name,
                    secret: f.secret,
                });
            }
            (None, None) if f.ty == FieldType::List => Value::Array(Vec::new()),
            (None, None) => continue,
        };
        out.insert(f.name.to_string(), canonical(f, value)?);
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| SettingsError::Shape(e.to_string()))
}

fn canonical(f: &Field, v: Value) -> Result<Value, SettingsError> {
    let invalid = |problem| SettingsError::Invalid {
        name: f.name,
        problem,
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    Ok(match f.ty {
        FieldType::Url => {
            let s = v.as_str().ok_or(invalid("is not a URL"))?;
            Url::parse(s).map_err(|_| invalid("is not a URL"))?;
            v
        }
        FieldType::Text | FieldType::Multiline | FieldType::Choice => {
            Value::String(text(&v).ok_or(invalid("is not text"))?)
        }
        FieldType::Integer => match &v {
            Value::Number(n) if n.is_u64() => v,
            _ => text(&v)
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Value::from)
                .ok_or(invalid("is not a whole number"))?,
        },
        FieldType::Boolean => match text(&v).as_deref() {
            Some("true") => Value::Bool(true),
            Some("false") => Value::Bool(false),
            _ => return Err(invalid("is not true or false")),
        },
        FieldType::List => match v {
            Value::Array(a) => Value::Array(
                a.iter()
                    .filter_map(text)
                    .filter(|s| !s.is_empty())
                    .map(Value::String)
                    .collect(),
            ),
            other => Value::Array(
                text(&other)
                    .ok_or(invalid("is not a list"))?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
        },
    })
}

/// `#[serde(deserialize_with = "form::url")]`: a URL field.
pub fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let s = String::deserialize(d)?;
    Url::parse(&s).map_err(serde::de::Error::custom)
}

/// `#[serde(default, deserialize_with = "form::optional_url")]`: an optional URL field.
pub fn optional_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| Url::parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// The secret fields of `names` that are set, in that order (a webhook's current key, then the
/// previous one while it is rotated).
pub fn secrets_named(secrets: &Map<String, Value>, names: &[&str]) -> Vec<SecretString> {
    names
        .iter()
        .filter_map(|k| secrets.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(|s| SecretString::from(s.to_string()))
        .collect()
}

/// A connection with only its required fields set (each to a plausible value of its type):
/// what a vendor's test reads to check that every form default deserialises.
#[cfg(test)]
pub fn required_only(fields: &[Field]) -> (Map<String, Value>, Map<String, Value>) {
    let (mut settings, mut secrets) = (Map::new(), Map::new());
    for f in fields.iter().filter(|f| f.required) {
        let v = match f.ty {
            FieldType::Url => Value::from("https://tenant.example"),
            FieldType::Integer => Value::from(1),
            FieldType::Boolean => Value::from(true),
            FieldType::List => Value::from(vec!["x"]),
            FieldType::Choice => Value::from(f.choices[0]),
            FieldType::Text | FieldType::Multiline => Value::from("value"),
        };
        if f.secret {
            &mut secrets
        } else {
            &mut settings
        }
        .insert(f.name.into(), v);
    }
    (settings, secrets)
}

/// A vendor's settings read from a connection with only its required fields set: every
/// other field takes its form default (what each vendor's `the_form_defaults_deserialise`
/// checks).
#[cfg(test)]
pub fn defaults<S: VendorSettings>() -> S {
    let (settings, secrets) = required_only(S::FIELDS);
    S::read(&settings, &secrets).expect("the form defaults deserialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    const FIELDS: &[Field] = &[
        Field::new("url", "URL", FieldType::Url, false, true, ""),
        Field::new("token", "Token", FieldType::Text, true, true, ""),
        Field::new("n", "N", FieldType::Integer, false, false, "").default("8"),
        Field::new("on", "On", FieldType::Boolean, false, false, "").default("false"),
        Field::new("ids", "Ids", FieldType::List, false, false, ""),
        Field::new("note", "Note", FieldType::Text, false, false, ""),
    ];

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct S {
        #[serde(deserialize_with = "url")]
        url: Url,
        token: SecretString,
        n: u64,
        on: bool,
        ids: Vec<String>,
        note: Option<String>,
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn missing_fields_take_their_defaults_and_stored_values_are_read_leniently() {
        let s: S = parse(
            FIELDS,
            &obj(json!({"url": "https://x.example"})),
            &obj(json!({"token": "t"})),
        )
        .unwrap();
        assert_eq!(
            (s.url.host_str(), s.token.expose_secret()),
            (Some("x.example"), "t")
        );
        assert_eq!((s.n, s.on, s.ids.len(), s.note), (8, false, 0, None));
        let s: S = parse(
            FIELDS,
            &obj(json!({"url": "https://x.example", "n": "12", "on": true, "ids": "a, b,", "note": ""})),
            &obj(json!({"token": "t"})),
        )
        .unwrap();
        assert_eq!(
            (s.n, s.on, s.ids, s.note),
            (12, true, vec!["a".into(), "b".into()], None)
        );
    }

    #[test]
    fn a_missing_or_bad_field_is_named() {
        let e = parse::<S>(
            FIELDS,
            &obj(json!({"url": "https://x.example"})),
            &Map::new(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the credential 'token' is missing");
        let e = parse::<S>(FIELDS, &Map::new(), &obj(json!({"token": "t"}))).unwrap_err();
        assert_eq!(e.to_string(), "the setting 'url' is missing");
        let e = parse::<S>(
            FIELDS,
            &obj(json!({"url": "not a url"})),
            &obj(json!({"token": "t"})),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the setting 'url' is not a URL");
        let e = parse::<S>(
            FIELDS,
            &obj(json!({"url": "https://x.example", "n": "many"})),
            &obj(json!({"token": "t"})),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the setting 'n' is not a whole number");
    }

    #[test]
    fn a_secret_is_read_only_from_the_secret() {
        // A secret field stored among the settings is not a secret: it is not used.
        let e = parse::<S>(
            FIELDS,
            &obj(json!({"url": "https://x.example", "token": "leaked"})),
            &Map::new(),
        )
        .unwrap_err();
        assert!(matches!(e, SettingsError::Missing { name: "token", .. }));
    }
}
