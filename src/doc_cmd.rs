//! `tutti doc MODULE` and `tutti doc --list` (also `ansible-doc`): module
//! documentation printed from the argument specs the modules check their
//! arguments against.

use std::fmt::Write as _;

use tutti_modules::spec::{ModuleSpec, Param};

use crate::cli::DocCli;
use crate::diagnostic::Diagnostic;
use crate::playbook::keywords::{short_name, suggest};

/// Width the prose is wrapped to.
const WIDTH: usize = 78;

pub fn run(cli: &DocCli) -> Result<u8, Diagnostic> {
    if cli.list || cli.modules.is_empty() {
        print!("{}", list());
        return Ok(0);
    }
    let mut out = String::new();
    for name in &cli.modules {
        let spec = find(name)?;
        if cli.snippet {
            out.push_str(&snippet(spec));
        } else {
            out.push_str(&page(spec));
        }
    }
    print!("{out}");
    Ok(0)
}

/// Every documented module.
pub fn specs() -> impl Iterator<Item = &'static ModuleSpec> {
    tutti_modules::builtins().iter().map(|m| m.spec())
}

fn find(name: &str) -> Result<&'static ModuleSpec, Diagnostic> {
    let short = short_name(name);
    if let Some(spec) = tutti_modules::find(short).map(|m| m.spec()) {
        return Ok(spec);
    }
    let mut d = Diagnostic::error(format!("module {name} not found"));
    if let Some(s) = suggest(short, specs().map(|s| s.name)) {
        d = d.with_help(format!("did you mean `{s}`?"));
    }
    Err(d)
}

/// `tutti doc --list`: FQCN and one line per module.
pub fn list() -> String {
    let width = specs().map(|s| s.name.len()).max().unwrap_or(0) + "ansible.builtin.".len();
    specs().fold(String::new(), |mut out, s| {
        let fqcn = format!("ansible.builtin.{}", s.name);
        let _ = writeln!(out, "{fqcn:<width$}  {}", s.short);
        out
    })
}

/// The full page for one module.
pub fn page(spec: &ModuleSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "> ANSIBLE.BUILTIN.{}  ({})\n",
        spec.name.to_uppercase(),
        spec.name
    );
    wrap(&mut out, spec.short, 2);
    out.push('\n');
    wrap(&mut out, spec.description, 2);
    out.push_str("\nOPTIONS (= is mandatory):\n");
    let mut params: Vec<&Param> = spec.params.iter().filter(|p| !p.is_internal()).collect();
    params.sort_by_key(|p| p.name);
    for p in params {
        let _ = writeln!(out, "\n{} {}", if p.required { '=' } else { '-' }, p.name);
        wrap(&mut out, p.help, 8);
        if !p.aliases.is_empty() {
            let _ = writeln!(out, "        aliases: [{}]", p.aliases.join(", "));
        }
        if !p.choices.is_empty() {
            let _ = writeln!(out, "        choices: [{}]", p.choices.join(", "));
        }
        match p.default {
            Some("") => out.push_str("        default: ''\n"),
            Some(d) => {
                let _ = writeln!(out, "        default: {d}");
            }
            None => {}
        }
        let _ = writeln!(out, "        type: {}", p.kind.name());
    }
    if spec.open {
        out.push_str("\n  Other arguments are passed on to the module that does the work.\n");
    }
    let _ = writeln!(
        out,
        "\nATTRIBUTES:\n\n  check_mode: {}\n  diff_mode: {}",
        spec.check.describe(),
        spec.diff.describe()
    );
    let _ = writeln!(out, "\nEXAMPLES:\n\n{}", spec.example.trim_end());
    out
}

/// `-s`: a task skeleton with every parameter, required ones first.
pub fn snippet(spec: &ModuleSpec) -> String {
    let mut out = format!("- name: {}\n  ansible.builtin.{}:\n", spec.short, spec.name);
    let mut params: Vec<&Param> = spec.params.iter().filter(|p| !p.is_internal()).collect();
    params.sort_by_key(|p| (!p.required, p.name));
    for p in params {
        let first = p.help.split(". ").next().unwrap_or(p.help);
        let _ = writeln!(out, "    {}:  # {}", p.name, first.trim_end_matches('.'));
    }
    out
}

/// Appends `text` word-wrapped to [`WIDTH`], every line indented by `indent`.
fn wrap(out: &mut String, text: &str, indent: usize) {
    let pad = " ".repeat(indent);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{pad}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{pad}{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;
    use serde_json::Value;

    /// Every example is a task list whose tasks call the module with
    /// arguments its spec accepts (templated values are left out: they are
    /// only known at run time).
    #[test]
    fn examples_use_the_module_as_specified() {
        for spec in specs() {
            let src = Source::new(format!("{} example", spec.name), spec.example);
            let doc = crate::yaml::load(&src).unwrap().node.to_json();
            let tasks = doc
                .as_array()
                .unwrap_or_else(|| panic!("{}: not a list", spec.name));
            assert!(!tasks.is_empty());
            let fqcn = format!("ansible.builtin.{}", spec.name);
            let uses: Vec<&Value> = tasks
                .iter()
                .filter_map(|t| t.get(&fqcn).or_else(|| t.get(spec.name)))
                .collect();
            // Other tasks may show what to do with the result.
            assert!(!uses.is_empty(), "{}: no task uses the module", spec.name);
            for args in uses {
                let args = match args {
                    Value::Object(m) => m
                        .iter()
                        .filter(|(_, v)| !v.to_string().contains("{{"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    Value::String(s) => {
                        let mut m = serde_json::Map::new();
                        m.insert("_raw_params".into(), Value::String(s.clone()));
                        m
                    }
                    _ => serde_json::Map::new(),
                };
                if let Err(e) = tutti_modules::params::check(spec, args) {
                    // Required arguments may be the templated ones.
                    assert!(
                        e.msg.starts_with("missing required arguments"),
                        "{}: {}",
                        spec.name,
                        e.msg
                    );
                }
            }
        }
    }

    #[test]
    fn wraps_prose_at_the_width() {
        let mut out = String::new();
        wrap(&mut out, &"word ".repeat(40), 8);
        assert!(
            out.lines()
                .all(|l| l.len() <= WIDTH && l.starts_with("        word"))
        );
        assert_eq!(out.split_whitespace().count(), 40);
    }
}
