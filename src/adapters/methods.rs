//! The method registry: `register_methods!` turns the list of method types in
//! [`crate::adapters`] into [`Method`] (the name everything else uses) and [`AnyAdapter`] (the
//! burn module a layer holds), and everything about a method is read from its [`Kind`] impl —
//! names, labels, parsing, parameter counts — so no other file lists methods.

use super::adapter::Kind;
use super::{AnyAdapter, Method};

/// What a [`Kind`] says about itself, gathered so [`Method`] can answer without a match per
/// question.
pub(crate) struct Info {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub trains_base: bool,
    pub ranked: bool,
    pub reads: super::Reads,
    pub settings: &'static [&'static str],
    pub params: fn(usize, [usize; 2], bool) -> usize,
}

impl Info {
    pub(crate) const fn of<K: Kind>() -> Self {
        Self {
            name: K::NAME,
            label: K::LABEL,
            help: K::HELP,
            trains_base: K::TRAINS_BASE,
            ranked: K::RANKED,
            reads: K::READS,
            settings: K::SETTINGS,
            params: <K as Kind>::trainable_params,
        }
    }
}

/// Declares each `module::Type` as a method: `pub mod module;`, a [`Method`] variant and an
/// [`AnyAdapter`] variant named `Type`, and the conversions between them. Invoked once, in
/// `adapters/mod.rs`.
macro_rules! register_methods {
    ($($module:ident :: $kind:ident),+ $(,)?) => {
        $(pub mod $module;)+
        $(pub use $module::$kind;)+

        /// How a model is fine-tuned: one variant per registered method, in registry order.
        /// Serialized (experiment files, events, adapter files) and parsed (CLI, URLs) by its
        /// [`name`](Method::name).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method {
            $($kind,)+
        }

        impl Method {
            /// Every method, in registry order (the CLI's and the app's order).
            pub const ALL: &'static [Method] = &[$(Method::$kind),+];

            pub(crate) const fn info(self) -> &'static $crate::adapters::methods::Info {
                match self {
                    $(Method::$kind => {
                        const INFO: $crate::adapters::methods::Info =
                            $crate::adapters::methods::Info::of::<$kind>();
                        &INFO
                    })+
                }
            }

            /// Builds this method's adapter for `layer` (see [`Kind::attach`]).
            ///
            /// [`Kind::attach`]: $crate::adapters::Kind::attach
            pub(crate) fn attach_to(
                self,
                layer: &mut $crate::adapters::AdaptedLinear,
                ctx: &$crate::adapters::Attach<'_>,
            ) -> $crate::Result<(AnyAdapter, Option<$crate::adapters::CurSelection>)> {
                match self {
                    $(Method::$kind => {
                        let (a, s) = <$kind as $crate::adapters::Kind>::attach(layer, ctx)?;
                        Ok((AnyAdapter::$kind(a), s))
                    })+
                }
            }
        }

        /// The adapter a layer carries, whichever method made it. Not boxed: a model has a few
        /// hundred layers, and the old `Option<CurLora>` + `Option<Lora>` pair was larger.
        #[allow(clippy::large_enum_variant)]
        #[derive(burn::module::Module, Debug)]
        pub enum AnyAdapter {
            $($kind($kind),)+
        }

        impl AnyAdapter {
            pub fn method(&self) -> Method {
                match self {
                    $(AnyAdapter::$kind(_) => Method::$kind,)+
                }
            }

            /// The adapter behind the enum, to call its [`Adapter`] methods.
            ///
            /// [`Adapter`]: $crate::adapters::Adapter
            pub fn get(&self) -> &dyn $crate::adapters::Adapter {
                match self {
                    $(AnyAdapter::$kind(a) => a,)+
                }
            }

            pub fn get_mut(&mut self) -> &mut dyn $crate::adapters::Adapter {
                match self {
                    $(AnyAdapter::$kind(a) => a,)+
                }
            }
        }

        $(
            impl $crate::adapters::methods::Registered for $kind {
                fn from_any(a: &AnyAdapter) -> Option<&Self> {
                    #[allow(unreachable_patterns)]
                    match a {
                        AnyAdapter::$kind(x) => Some(x),
                        _ => None,
                    }
                }

                fn from_any_mut(a: &mut AnyAdapter) -> Option<&mut Self> {
                    #[allow(unreachable_patterns)]
                    match a {
                        AnyAdapter::$kind(x) => Some(x),
                        _ => None,
                    }
                }
            }
        )+
    };
}
pub(crate) use register_methods;

/// A registered method's adapter type, reachable from [`AnyAdapter`] (implemented by
/// `register_methods!`): lets tests and benchmarks reach one method's internals
/// (`layer.adapter_as::<CurLora>()`) without a per-method accessor.
pub trait Registered: Sized {
    fn from_any(a: &AnyAdapter) -> Option<&Self>;
    fn from_any_mut(a: &mut AnyAdapter) -> Option<&mut Self>;
}

impl Method {
    /// The name in the CLI, URLs, experiment files and events, e.g. `curlora`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The name people read, e.g. `CURLoRA`, `full fine-tune`.
    pub fn label(self) -> &'static str {
        self.info().label
    }

    /// One line of help, as `--help` shows it.
    pub fn help(self) -> &'static str {
        self.info().help
    }

    /// The method named `name` (exactly as [`name`](Self::name) writes it).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// Every method's name, in registry order.
    pub fn names() -> Vec<&'static str> {
        Method::ALL.iter().map(|m| m.name()).collect()
    }

    /// Whether every base weight trains (a full fine-tune).
    pub fn trains_base(self) -> bool {
        self.info().trains_base
    }

    /// Whether this method reads the [`AdapterConfig`](super::AdapterConfig) setting `field`
    /// (see [`Kind::SETTINGS`]).
    pub fn reads_setting(self, field: &str) -> bool {
        self.info().settings.contains(&field)
    }

    /// Whether the rank applies to this method.
    pub fn uses_rank(self) -> bool {
        self.info().ranked
    }

    /// What attaching reads of the targeted weights (see [`Reads`](super::Reads)).
    pub fn reads(self) -> super::Reads {
        self.info().reads
    }

    /// Trainable parameters on one `[in, out]` matrix with (`bias`) or without a bias.
    pub fn trainable_params(self, rank: usize, shape: [usize; 2], bias: bool) -> usize {
        (self.info().params)(rank, shape, bias)
    }

    /// The run's label: the name with its rank where the rank applies (`curlora-8`, `full`).
    pub fn run_label(self, rank: usize) -> String {
        if self.uses_rank() {
            format!("{}-{rank}", self.name())
        } else {
            self.name().to_string()
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_name(s).ok_or_else(|| {
            format!(
                "unknown method `{s}`: expected one of {}",
                Method::names().join(", ")
            )
        })
    }
}

/// A unit enum variant, as serde's derive writes one: `"curlora"` in JSON and TOML.
impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = Method::ALL.iter().position(|m| m == self).unwrap_or(0) as u32;
        s.serialize_unit_variant("Method", index, self.name())
    }
}

/// Reads what [`Serialize`](serde::Serialize) writes, as serde's derive for a unit enum does
/// (including its `unknown variant` message).
impl<'de> serde::Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_enum("Method", NAMES, MethodVisitor)
    }
}

const NAMES: &[&str] = &{
    let mut names = [""; Method::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Method::ALL[i].info().name;
        i += 1;
    }
    names
};

struct MethodVisitor;

impl<'de> serde::de::Visitor<'de> for MethodVisitor {
    type Value = Method;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("enum Method")
    }

    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Method, A::Error> {
        use serde::de::VariantAccess;
        let (method, variant) = data.variant_seed(VariantName)?;
        variant.unit_variant()?;
        Ok(method)
    }
}

/// The variant's identifier: its name (or its index, as serde's derive also accepts).
struct VariantName;

impl<'de> serde::de::DeserializeSeed<'de> for VariantName {
    type Value = Method;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Method, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> serde::de::Visitor<'de> for VariantName {
    type Value = Method;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("variant identifier")
    }

    fn visit_u64<E: serde::de::Error>(self, i: u64) -> Result<Method, E> {
        Method::ALL.get(i as usize).copied().ok_or_else(|| {
            E::invalid_value(
                serde::de::Unexpected::Unsigned(i),
                &format!("variant index 0 <= i < {}", Method::ALL.len()).as_str(),
            )
        })
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Method, E> {
        Method::from_name(s).ok_or_else(|| E::unknown_variant(s, NAMES))
    }

    fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Method, E> {
        match std::str::from_utf8(b) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::unknown_variant(&String::from_utf8_lossy(b), NAMES)),
        }
    }
}

/// The CLI's possible values (`--methods lora,curlora`), with each method's help line.
impl clap::ValueEnum for Method {
    fn value_variants<'a>() -> &'a [Self] {
        Method::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.help()))
    }
}
