//! Which keys are keywords at each level of a playbook, which names are
//! controller-side actions, and "did you mean" suggestions for typos.

/// Keywords valid on a play.
pub const PLAY: &[&str] = &[
    "any_errors_fatal",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "diff",
    "environment",
    "fact_path",
    "force_handlers",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "handlers",
    "hosts",
    "ignore_errors",
    "ignore_unreachable",
    "max_fail_percentage",
    "module_defaults",
    "name",
    "no_log",
    "order",
    "port",
    "post_tasks",
    "pre_tasks",
    "remote_user",
    "roles",
    "run_once",
    "serial",
    "strategy",
    "tags",
    "tasks",
    "throttle",
    "timeout",
    "validate_argspec",
    "vars",
    "vars_files",
    "vars_prompt",
];

/// Keywords valid on a block.
pub const BLOCK: &[&str] = &[
    "always",
    "any_errors_fatal",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "block",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "module_defaults",
    "name",
    "no_log",
    "notify",
    "port",
    "remote_user",
    "rescue",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "vars",
    "when",
];

/// Keywords valid on a task (plus `with_<lookup>`); handlers add `listen`.
pub const TASK: &[&str] = &[
    "action",
    "any_errors_fatal",
    "args",
    "async",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "changed_when",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delay",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "local_action",
    "loop",
    "loop_control",
    "module_defaults",
    "name",
    "no_log",
    "notify",
    "poll",
    "port",
    "register",
    "remote_user",
    "retries",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "until",
    "vars",
    "when",
];

/// The keywords a dynamic include (`include_tasks`, `include_role`) takes:
/// they act on the include itself, so ansible-core refuses the others
/// (`become`, `environment`, `delegate_to`...) at load time; `apply` hands
/// keywords to the included tasks. Loops (`with_*`) and a handler's
/// `listen` are allowed too.
pub const DYNAMIC_INCLUDE: &[&str] = &[
    "action",
    "args",
    "collections",
    "debugger",
    "ignore_errors",
    "loop",
    "loop_control",
    "name",
    "no_log",
    "register",
    "run_once",
    "tags",
    "timeout",
    "vars",
    "when",
];

/// Actions that run on the controller (Ansible's action plugins), beside
/// the modules in `tutti-modules`.
pub const CONTROLLER_ACTIONS: &[&str] = &[
    "add_host",
    "assert",
    "debug",
    "fail",
    "gather_facts",
    "group_by",
    "import_playbook",
    "import_role",
    "import_tasks",
    "include_role",
    "include_tasks",
    "include_vars",
    "meta",
    "pause",
    "set_fact",
    "set_stats",
    "setup",
    "template",
    "validate_argument_spec",
];

/// The lookups `with_<name>` may use.
pub const WITH_LOOKUPS: &[&str] = &[
    "items",
    "list",
    "dict",
    "indexed_items",
    "nested",
    "together",
    "subelements",
    "sequence",
    "fileglob",
    "first_found",
    "file",
    "lines",
    "env",
    "random_choice",
    "inventory_hostnames",
    "cartesian",
    "flattened",
    "template",
    "vars",
    "varnames",
    "pipe",
    "csvfile",
    "ini",
    "password",
];

/// Strips Ansible's collection prefixes from an action name.
pub fn short_name(name: &str) -> &str {
    if let Some(short) = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
    {
        return short;
    }
    // Modules that moved to collections but that tutti has built in.
    for prefix in ["ansible.posix.", "community.general.", "community.crypto."] {
        if let Some(short) = name.strip_prefix(prefix)
            && tutti_modules::find(short).is_some()
        {
            return short;
        }
    }
    name
}

/// Whether `name` (short) is an action tutti can run.
pub fn is_known_action(name: &str) -> bool {
    CONTROLLER_ACTIONS.contains(&name) || tutti_modules::find(name).is_some()
}

/// Every action name, for suggestions.
pub fn all_actions() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CONTROLLER_ACTIONS.to_vec();
    v.extend(tutti_modules::builtins().iter().map(|m| m.name()));
    v
}

/// The closest candidate to `word`, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = distance(word, c);
        let limit = (word.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance with transpositions counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keywords_only() {
        assert_eq!(suggest("whne", TASK.iter().copied()), Some("when"));
        assert_eq!(suggest("regster", TASK.iter().copied()), Some("register"));
        assert_eq!(suggest("zzzzzz", TASK.iter().copied()), None);
        assert_eq!(suggest("comand", all_actions()), Some("command"));
    }

    #[test]
    fn fqcn_names() {
        assert_eq!(short_name("ansible.builtin.copy"), "copy");
        assert_eq!(short_name("ansible.legacy.shell"), "shell");
        assert_eq!(
            short_name("community.general.ini_file"),
            "community.general.ini_file"
        );
    }
}
