//! Which handlers a task's `notify` calls: names rendered with the host's
//! variables (a template may name several), a name calling the first
//! handler so named (the notifier's own section first, later-loaded
//! sections before earlier ones), a topic calling every listener, and
//! Ansible's error or warning for a name nothing answers to.

use std::sync::Arc;

use serde_json::Value;

use super::walk::HostCtx;
use crate::playbook::model::Task;

/// The (id, banner name) of every handler `t`'s notifications call, in
/// definition order.
pub fn notified_handlers(hc: &HostCtx, t: &Arc<Task>) -> Vec<(usize, String)> {
    let run = &hc.pc.run;
    let scope = hc.scope_for(t);
    let mut notify_names = Vec::new();
    for n in &t.notify {
        match run.templar.render_str(n, &scope) {
            Ok(Value::String(s)) => notify_names.push(s),
            // A template may name several handlers at once.
            Ok(Value::Array(items)) => notify_names.extend(items.iter().map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })),
            Ok(other) => notify_names.push(other.to_string()),
            Err(_) => notify_names.push(n.clone()),
        }
    }
    // A name calls the first handler so named; a topic calls every
    // listener. They run in definition order. A templated handler name
    // is rendered with the notifying host's variables.
    let handlers = &hc.pc.play.handlers;
    let named = |h: &Task, n: &str| {
        if crate::playbook::load::handler_named(h, n) {
            return true;
        }
        match &h.name {
            Some(Value::String(hn)) if hn.contains("{{") => {
                match run.templar.render_str(hn, &scope) {
                    Ok(Value::String(r)) => {
                        r == n
                            || h.role
                                .as_ref()
                                .is_some_and(|role| format!("{role} : {r}") == n)
                    }
                    Err(e) if h.listen.is_empty() => {
                        run.warn_once(format!(
                            "Handler '{hn}' is unusable because it has no listen topics and \
                             the name could not be templated (host-specific variables are not \
                             supported in handler names). The error was: {e}"
                        ));
                        false
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    };
    // For a name, the notifying task's own handlers (its role's, or the
    // play's) are searched first, then the other sections, later-loaded
    // first, as Ansible's later-loaded handlers win; within a section the
    // first of a name wins.
    let mut sections: Vec<&[Arc<Task>]> = Vec::new();
    let mut start = 0;
    for i in 1..=handlers.len() {
        let boundary = i == handlers.len()
            || handlers[i].role != handlers[i - 1].role
            || handlers[i].origin.file != handlers[i - 1].origin.file;
        if boundary {
            sections.push(&handlers[start..i]);
            start = i;
        }
    }
    let mut called = std::collections::HashSet::new();
    for n in &notify_names {
        let own = |sec: &[Arc<Task>]| sec.first().is_some_and(|h| h.role == t.role);
        let mut found = false;
        if let Some(h) = sections
            .iter()
            .rev()
            .filter(|s| own(s))
            .chain(sections.iter().rev().filter(|s| !own(s)))
            .find_map(|sec| sec.iter().find(|h| named(h, n)))
        {
            called.insert(h.id);
            found = true;
        }
        for h in handlers
            .iter()
            .filter(|h| crate::playbook::load::handler_listens(h, n))
        {
            called.insert(h.id);
            found = true;
        }
        // A name known only now (templated, or from a role included at
        // run time) that no handler answers to: Ansible's error, or its
        // warning with error_on_missing_handler off.
        if !found {
            let msg = format!(
                "The requested handler '{n}' was not found in either the main handlers list nor in the listening handlers list"
            );
            if crate::playbook::load::error_on_missing_handler() {
                run.fail(msg);
            } else {
                run.warn_once(msg);
            }
        }
    }
    handlers
        .iter()
        .filter(|h| called.contains(&h.id))
        .map(|h| (h.id, h.display_name()))
        .collect()
}
