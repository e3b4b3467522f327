//! One type for every secret-bearing value: [`Sensitive`]. Its `Debug` (and `Serialize`)
//! show the value only as its kind allows, so a struct holding one can derive them; the value
//! itself is had through [`Sensitive::expose`], so each use of the secret reads as one. The
//! application adds kinds of its own (a database URL with its password masked, a webhook
//! shown by its host) by implementing [`Shown`].

/// What the secret part of a value is replaced with (a URL's password, say).
pub const MASK: &str = "***";

/// What a wholly hidden value is shown as.
pub const REDACTED: &str = "**REDACTED**";

/// A value that carries a secret, shown only as its kind `S` allows.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Sensitive<T, S: Shown<T> = Hidden> {
    value: T,
    #[serde(skip)]
    kind: std::marker::PhantomData<S>,
}

/// How a [`Sensitive`] value is shown.
pub trait Shown<T> {
    fn shown(value: &T) -> String;
}

/// Not at all.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden;

impl<T> Shown<T> for Hidden {
    fn shown(_: &T) -> String {
        REDACTED.to_string()
    }
}

impl<T, S: Shown<T>> Sensitive<T, S> {
    pub fn new(value: T) -> Self {
        Self {
            value,
            kind: std::marker::PhantomData,
        }
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &T {
        &self.value
    }

    /// The value as messages may show it.
    pub fn shown(&self) -> String {
        S::shown(&self.value)
    }
}

impl<T: Default, S: Shown<T>> Default for Sensitive<T, S> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<S: Shown<String>> From<&str> for Sensitive<String, S> {
    fn from(value: &str) -> Self {
        Self::new(value.to_string())
    }
}

impl<T, S: Shown<T>> std::fmt::Debug for Sensitive<T, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

/// Written out (a configuration dumped, say) as it is shown: the secret never leaves.
impl<T, S: Shown<T>> serde::Serialize for Sensitive<T, S> {
    fn serialize<Z: serde::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
        s.serialize_str(&self.shown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_value_is_never_shown_nor_written() {
        let token: Sensitive<String> = "tok-very-secret".into();
        assert_eq!(format!("{token:?}"), "\"**REDACTED**\"");
        assert_eq!(serde_json::to_string(&token).unwrap(), "\"**REDACTED**\"");
        assert_eq!(token.expose(), "tok-very-secret");
        let read: Sensitive<String> = serde_json::from_str("\"s3cret\"").unwrap();
        assert_eq!(read.expose(), "s3cret");
    }
}
