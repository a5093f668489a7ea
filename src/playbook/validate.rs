//! Load-time checks that need the template engine: every template string
//! and condition in a playbook must parse, so a syntax error stops the run
//! before any host is contacted.

use serde_json::Value;

use super::model::{Cond, LoopSpec, Play, Playbook, Step, Task};
use crate::diagnostic::{Diagnostic, Source, Span};
use crate::template::{Templar, is_template};

fn diag(origin: &super::model::Origin, msg: String) -> Diagnostic {
    let text = std::fs::read_to_string(&*origin.file).unwrap_or_default();
    let src = Source::new(origin.file.clone(), text);
    Diagnostic::parse(msg, Some(Span::new(&src, origin.line, origin.col)))
}

fn check_value(templar: &Templar, v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if is_template(s) => templar.check_syntax(s).map_err(|e| e.to_string()),
        Value::Array(a) => a.iter().try_for_each(|x| check_value(templar, x)),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            check_value(templar, &Value::String(k.clone())).and(check_value(templar, x))
        }),
        _ => Ok(()),
    }
}

fn check_conds(templar: &Templar, conds: &[Cond]) -> Result<(), Diagnostic> {
    for c in conds {
        if let Value::String(s) = &c.expr {
            let wrapped = if is_template(s) {
                s.clone()
            } else {
                format!("{{{{ {s} }}}}")
            };
            templar.check_syntax(&wrapped).map_err(|e| {
                diag(
                    &c.origin,
                    format!("template error in the conditional '{s}': {e}"),
                )
            })?;
        }
    }
    Ok(())
}

fn check_task(templar: &Templar, t: &Task) -> Result<(), Diagnostic> {
    let at = |msg: String| diag(&t.origin, msg);
    if let Some(n) = &t.name {
        check_value(templar, n).map_err(at)?;
    }
    check_value(templar, &Value::Object(t.args.clone())).map_err(at)?;
    check_value(templar, &Value::Object((*t.vars).clone())).map_err(at)?;
    match &t.loop_spec {
        Some(LoopSpec::Loop(v)) => check_value(templar, v).map_err(at)?,
        Some(LoopSpec::With { terms, .. }) => check_value(templar, terms).map_err(at)?,
        None => {}
    }
    for conds in [&t.kw.when, &t.changed_when, &t.failed_when, &t.until] {
        check_conds(templar, conds)?;
    }
    Ok(())
}

fn check_steps(templar: &Templar, steps: &[Step]) -> Result<(), Diagnostic> {
    for s in steps {
        match s {
            Step::Task(t) => check_task(templar, t)?,
            Step::Block(b) => {
                check_steps(templar, &b.block)?;
                check_steps(templar, &b.rescue)?;
                check_steps(templar, &b.always)?;
            }
        }
    }
    Ok(())
}

fn check_play(templar: &Templar, p: &Play) -> Result<(), Diagnostic> {
    let at = |msg: String| diag(&p.origin, msg);
    check_value(templar, &p.hosts).map_err(at)?;
    if let Some(n) = &p.name {
        check_value(templar, n).map_err(at)?;
    }
    check_value(templar, &Value::Object((*p.vars).clone())).map_err(at)?;
    for section in [&p.pre_tasks, &p.tasks, &p.post_tasks] {
        check_steps(templar, section)?;
    }
    for h in &p.handlers {
        check_task(templar, h)?;
    }
    Ok(())
}

/// Checks every template in the playbook for syntax errors.
pub fn check_templates(templar: &Templar, pb: &Playbook) -> Result<(), Diagnostic> {
    pb.plays.iter().try_for_each(|p| check_play(templar, p))
}
