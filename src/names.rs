//! Plain enums named on the command line (`--format json`): one macro gives each its names,
//! `FromStr` and `Display`, so the library never depends on the argument parser and `src/cli`
//! builds its value parsers from [`Named::NAMES`].
//!
//! A foundation module: it imports nothing of the crate.

/// An enum whose values have names, as [`crate::named_enum!`] declares it.
pub trait Named: Copy + std::str::FromStr + std::fmt::Display {
    /// Every value's name, in declaration order (what `--help` lists).
    const NAMES: &'static [&'static str];
}

/// Declares a `Copy` enum whose variants are named by the string after `=`, with optional
/// aliases after `|` that parse but are not listed; parsing ignores case and names the valid
/// choices when it fails.
///
/// ```
/// lucid::named_enum! {
///     "colour";
///     /// A colour.
///     pub enum Colour { Red = "red" | "r", Blue = "blue" }
/// }
/// assert_eq!("R".parse::<Colour>().unwrap(), Colour::Red);
/// assert_eq!(Colour::Blue.to_string(), "blue");
/// assert!("green".parse::<Colour>().unwrap_err().to_string().contains("red, blue"));
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $what:literal;
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl $crate::names::Named for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::anyhow::Error;
            fn from_str(s: &str) -> ::anyhow::Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(::anyhow::anyhow!(
                        "unknown {} {s:?}: use {}",
                        $what,
                        <$name as $crate::names::Named>::NAMES.join(", ")
                    )),
                }
            }
        }
    };
}
