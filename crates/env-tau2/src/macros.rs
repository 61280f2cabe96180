//! `py_model!`: declares a database model (a pydantic model of the original)
//! with its serde reader and its [`PyDump`](crate::pyjson::PyDump) writer.
//!
//! Fields are written in declaration order, which is pydantic's
//! `model_dump` order; the key order for `sort_keys=True` is computed at
//! compile time.

/// Indices of `names` in ascending byte order (Python's `sort_keys` order
/// for ASCII keys).
pub const fn sorted_order<const N: usize>(names: [&str; N]) -> [usize; N] {
    let mut idx = [0usize; N];
    let mut i = 0;
    while i < N {
        idx[i] = i;
        i += 1;
    }
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 && str_less(names[idx[j]], names[idx[j - 1]]) {
            let t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    idx
}

const fn str_less(a: &str, b: &str) -> bool {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// Declares a model struct: `py_model! { /// doc \n pub struct Name { /// doc \n pub field: Type, ... } }`.
macro_rules! py_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::pyjson::PyDump for $name {
            fn dump(&self, w: &mut $crate::pyjson::PyWriter) {
                const NAMES: &[&str] = &[$(stringify!($field)),*];
                const COUNT: usize = NAMES.len();
                const SORTED: [usize; COUNT] = $crate::macros::sorted_order::<COUNT>([$(stringify!($field)),*]);
                w.object(&[$((stringify!($field), &self.$field as &dyn $crate::pyjson::PyDump)),*], &SORTED);
            }
        }
    };
}

pub(crate) use py_model;

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_names() {
        assert_eq!(super::sorted_order(["b", "ab", "a", "c"]), [2, 1, 0, 3]);
    }
}
