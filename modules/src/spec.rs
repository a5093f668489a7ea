//! A module's argument spec, which is also its documentation: the names,
//! aliases, types, defaults, choices and required flags that
//! [`crate::params::parse`] enforces are the ones `tutti doc` prints, so the
//! two cannot drift.

/// The type of a parameter, with Ansible's names and conversion rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string; numbers and booleans are accepted and read as strings.
    Str,
    /// A path on the target (a string).
    Path,
    /// `true`/`false` or a YAML 1.1 spelling (`yes`, `on`, `1`, ...).
    Bool,
    /// An integer, or a string holding one.
    Int,
    /// A number, or a string holding one.
    Float,
    /// A list, or a comma-separated string.
    List,
    /// A mapping.
    Dict,
    /// Any value, read by the module itself.
    Raw,
}

impl Kind {
    /// The name Ansible's documentation uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "str",
            Kind::Path => "path",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::List => "list",
            Kind::Dict => "dict",
            Kind::Raw => "raw",
        }
    }
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
    /// The value used when the parameter is absent, written as YAML would
    /// write it (`true`, `0644`, `present`, `[]`); it is read with `kind`'s
    /// rules and put into the arguments before the module sees them.
    pub default: Option<&'static str>,
    pub choices: &'static [&'static str],
}

/// A parameter named `name` of type `kind`; chain the builders for the rest.
pub const fn param(name: &'static str, kind: Kind, help: &'static str) -> Param {
    Param {
        name,
        kind,
        help,
        aliases: &[],
        required: false,
        default: None,
        choices: &[],
    }
}

impl Param {
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    pub const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }

    /// Parameters whose names start with `_` are internal (set by the
    /// engine, like `_raw_params`) and left out of the documentation.
    pub fn is_internal(&self) -> bool {
        self.name.starts_with('_')
    }
}

/// How far a module supports check or diff mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Supported with a caveat, which the text says.
    Partial(&'static str),
    None,
}

impl Support {
    pub fn describe(self) -> String {
        match self {
            Support::Full => "full".to_string(),
            Support::Partial(why) => format!("partial: {why}"),
            Support::None => "none".to_string(),
        }
    }
}

/// Everything `tutti doc` says about a module, and the spec its arguments
/// are checked against.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSpec {
    pub name: &'static str,
    /// One line, shown by `tutti doc --list`.
    pub short: &'static str,
    /// A paragraph or two on what the module does and how.
    pub description: &'static str,
    pub params: &'static [Param],
    pub check: Support,
    pub diff: Support,
    /// A YAML task list showing typical use.
    pub example: &'static str,
    /// Arguments not in `params` are passed on (the `package` module hands
    /// them to the package manager's module) instead of rejected.
    pub open: bool,
    /// The field names of the struct the module deserializes into
    /// (`params::fields::<Params>`); a test holds them equal to `params`.
    pub fields: fn() -> Vec<&'static str>,
}

impl ModuleSpec {
    /// The parameter called `name`, by its name or one of its aliases.
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params
            .iter()
            .find(|p| p.name == name || p.aliases.contains(&name))
    }

    /// Ansible's list for "Supported parameters include": sorted names,
    /// each followed by its aliases in parentheses.
    pub fn supported(&self) -> String {
        let mut names: Vec<String> = self
            .params
            .iter()
            .map(|p| {
                if p.aliases.is_empty() {
                    p.name.to_string()
                } else {
                    let mut a = p.aliases.to_vec();
                    a.sort_unstable();
                    format!("{} ({})", p.name, a.join(", "))
                }
            })
            .collect();
        names.sort();
        names.join(", ")
    }
}
