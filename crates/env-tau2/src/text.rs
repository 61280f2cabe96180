//! [`Text`]: a tool's result text, either shared with a table's store of
//! record texts (a read tool copies a pointer) or owned.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A tool's result text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// Shared with the database's store of record texts.
    Shared(Arc<str>),
    /// Made for this call.
    Owned(String),
    /// A fixed text.
    Static(&'static str),
}

impl Text {
    /// The text as a `String` (a copy when it is shared).
    pub fn into_string(self) -> String {
        match self {
            Self::Shared(text) => text.to_string(),
            Self::Owned(text) => text,
            Self::Static(text) => text.to_string(),
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Self::Owned(String::new())
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Self::Shared(text) => text,
            Self::Owned(text) => text,
            Self::Static(text) => text,
        }
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self::Owned(text)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self::Owned(text.to_string())
    }
}

impl From<Arc<str>> for Text {
    fn from(text: Arc<str>) -> Self {
        Self::Shared(text)
    }
}

impl From<Text> for Arc<str> {
    /// Shares a shared text; makes one copy of any other.
    fn from(text: Text) -> Self {
        match text {
            Text::Shared(text) => text,
            Text::Owned(text) => Self::from(text),
            Text::Static(text) => Self::from(text),
        }
    }
}

impl From<Text> for String {
    fn from(text: Text) -> Self {
        text.into_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        **self == **other
    }
}

impl crate::pyjson::PyDump for Text {
    fn dump(&self, w: &mut crate::pyjson::PyWriter) {
        w.str(self);
    }
}
