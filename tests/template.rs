//! Behaviour of the templating layer against Ansible's: native types, lazy
//! variables, unsafe data, Python-style printing, undefined handling, and
//! every filter, test and lookup the engine relies on.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tutti::template::{
    FileOptions, Layer, OMIT_PREFIX, Scope, Templar, TemplateError, Var, is_template, lookup_loop,
};

fn scope_with(vars: Value) -> Scope {
    let mut layer = Layer::new();
    if let Value::Object(m) = vars {
        for (k, v) in m {
            layer.insert(
                k,
                Var {
                    value: v,
                    trusted: true,
                },
            );
        }
    }
    let mut s = Scope::new();
    s.push_layer(Arc::new(layer));
    s
}

fn t() -> Templar {
    Templar::new()
}

/// Renders with variables; panics on error.
fn rv(tpl: &str, vars: Value) -> Value {
    t().render_str(tpl, &scope_with(vars))
        .unwrap_or_else(|e| panic!("{tpl}: {e}"))
}

fn r(tpl: &str) -> Value {
    rv(tpl, json!({}))
}

/// Renders to a string.
fn s(tpl: &str) -> String {
    match r(tpl) {
        Value::String(s) => s,
        other => panic!("{tpl}: expected a string, got {other}"),
    }
}

fn sv(tpl: &str, vars: Value) -> String {
    match rv(tpl, vars) {
        Value::String(s) => s,
        other => panic!("{tpl}: expected a string, got {other}"),
    }
}

fn e(tpl: &str, vars: Value) -> TemplateError {
    match t().render_str(tpl, &scope_with(vars)) {
        Ok(v) => panic!("{tpl}: expected an error, got {v}"),
        Err(e) => e,
    }
}

fn b(expr: &str, vars: Value) -> bool {
    t().eval_bool(expr, &scope_with(vars))
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

// ---------------------------------------------------------------------
// Native types and printing

#[test]
fn native_single_expression_keeps_type() {
    assert_eq!(rv("{{ x }}", json!({"x": [1, "a"]})), json!([1, "a"]));
    assert_eq!(r("{{ 1 + 2 }}"), json!(3));
    // Whitespace around the expression is text (checked against
    // ansible-core 2.19: " {{ v }}", "{{ v }}\n" are strings).
    assert_eq!(r("  {{ {'a': true} }} "), json!("  {'a': True} "));
    assert_eq!(rv("{{ v }}\n", json!({"v": "abc"})), json!("abc\n"));
    assert_eq!(rv(" {{ v }}", json!({"v": "abc"})), json!(" abc"));
    assert_eq!(rv("  {{- v -}} ", json!({"v": [1]})), json!([1]));
    assert_eq!(r("{{ none }}"), json!(null));
    assert_eq!(r("{{ 1.5 }}"), json!(1.5));
    assert_eq!(rv("{{ x }}", json!({"x": "1"})), json!("1"));
    assert_eq!(r("plain text"), json!("plain text"));
    assert_eq!(r("{{ 'a' }}{{ 'b' }}"), json!("ab"));
}

#[test]
fn python_style_printing() {
    assert_eq!(s("x {{ ['a', 1] }}"), "x ['a', 1]");
    assert_eq!(s("x {{ true }}"), "x True");
    assert_eq!(s("x {{ none }}"), "x None");
    assert_eq!(
        s("x {{ {'k': 'v', 'n': none} }}"),
        "x {'k': 'v', 'n': None}"
    );
    assert_eq!(s("x {{ 2.0 }}"), "x 2.0");
    assert_eq!(
        sv("v={{ x }}", json!({"x": [true, false]})),
        "v=[True, False]"
    );
    assert_eq!(s("{{ [1, 2] | string }}"), "[1, 2]");
}

#[test]
fn strings_without_syntax_are_untouched() {
    assert!(is_template("a {{ b }}"));
    assert!(is_template("{% if x %}{% endif %}"));
    assert!(is_template("{# c #}"));
    assert!(!is_template("a { b } %"));
    let v = json!({"k": "{{ 1 + 1 }}", "{{ 'n' ~ 'ame' }}": ["{{ 3 }}", 4, "z"]});
    assert_eq!(
        t().render(&v, &Scope::new()).unwrap(),
        json!({"k": 2, "name": [3, 4, "z"]})
    );
}

#[test]
fn trailing_newlines_are_kept_in_strings() {
    assert_eq!(s("{{ 'a' }} b\n"), "a b\n");
    assert_eq!(s("{% if true %}\nyes\n{% endif %}\n"), "yes\n");
}

// ---------------------------------------------------------------------
// Lazy variables, cycles, unsafe data

#[test]
fn lazy_variables_render_on_access() {
    let vars = json!({"a": "{{ b }}-x", "b": "{{ c | int + 1 }}", "c": "41", "l": ["{{ c }}", {"k": "{{ b }}"}]});
    assert_eq!(rv("{{ a }}", vars.clone()), json!("42-x"));
    assert_eq!(rv("{{ b }}", vars.clone()), json!(42));
    assert_eq!(rv("{{ l }}", vars.clone()), json!(["41", {"k": 42}]));
    assert_eq!(rv("{{ l[1].k + 1 }}", vars), json!(43));
}

#[test]
fn recursive_variables_error() {
    let err = e("{{ a }}", json!({"a": "{{ b }}", "b": "{{ a }}"}));
    assert!(
        err.msg
            .contains("recursive loop detected in template string"),
        "{}",
        err.msg
    );
}

#[test]
fn untrusted_values_are_never_templated() {
    let dir = tmpdir();
    let marker = dir.path().join("pwned");
    let payload = format!("{{{{ lookup('pipe','touch {}') }}}}", marker.display());
    let mut layer = Layer::new();
    layer.insert(
        "result".into(),
        Var {
            value: json!({"stdout": payload.clone()}),
            trusted: false,
        },
    );
    let mut sc = Scope::new();
    sc.push_layer(Arc::new(layer));
    let out = t().render_str("{{ result.stdout }}", &sc).unwrap();
    assert_eq!(out, json!(payload));
    let out = t().render_str("got: {{ result.stdout }}", &sc).unwrap();
    assert_eq!(out, json!(format!("got: {payload}")));
    assert!(!marker.exists(), "a host-provided string was executed");
}

#[test]
fn unsafe_markers_stay_literal() {
    let vars = json!({"u": {"__tutti_unsafe__": "{{ nope }}"}, "d": {"x": {"__tutti_unsafe__": "{% raw %}"}}});
    assert_eq!(rv("{{ u }}", vars.clone()), json!("{{ nope }}"));
    assert_eq!(rv("{{ d.x }}", vars.clone()), json!("{% raw %}"));
    assert_eq!(
        t().render(
            &json!({"a": {"__tutti_unsafe__": "{{ x }}"}}),
            &Scope::new()
        )
        .unwrap(),
        json!({"a": "{{ x }}"})
    );
}

#[test]
fn set_overrides_layers_and_names_lists_all() {
    let mut sc = scope_with(json!({"a": 1, "b": 2}));
    sc.set(
        "a",
        Var {
            value: json!(10),
            trusted: true,
        },
    );
    assert_eq!(t().render_str("{{ a + b }}", &sc).unwrap(), json!(12));
    let names = sc.names();
    assert!(names.contains(&"a".to_string()) && names.contains(&"b".to_string()));
    assert_eq!(sc.get_raw("a").map(|v| v.value), Some(json!(10)));
    sc.set_object("obj", minijinja::Value::from(vec![1, 2]));
    assert_eq!(t().render_str("{{ obj | length }}", &sc).unwrap(), json!(2));
}

#[test]
fn vars_and_omit() {
    let vars = json!({"a": "{{ 5 }}", "name": "a"});
    assert_eq!(rv("{{ vars[name] }}", vars.clone()), json!(5));
    assert_eq!(rv("{{ 'a' in vars }}", vars.clone()), json!(true));
    let omit = rv("{{ omit }}", json!({}));
    assert!(omit.as_str().unwrap().starts_with(OMIT_PREFIX));
    assert_eq!(rv("{{ x | default(omit) }}", json!({})), omit);
}

// ---------------------------------------------------------------------
// Undefined handling

#[test]
fn undefined_handling() {
    assert_eq!(s("{{ missing.x | default('y') }}"), "y");
    assert_eq!(s("{{ missing | default('z') }}"), "z");
    let err = e("{{ missing }}", json!({}));
    assert_eq!(err.msg, "'missing' is undefined");
    assert_eq!(err.undefined.as_deref(), Some("missing"));
    let err = e("hello {{ missing }}", json!({}));
    assert_eq!(err.msg, "'missing' is undefined");
    let err = e("{{ a.b }}", json!({"a": {"c": 1}}));
    assert_eq!(err.msg, "'dict object' has no attribute 'b'");
    let err = e("{{ a }}", json!({"a": "{{ b }}"}));
    assert_eq!(err.msg, "'b' is undefined");
    // The silent undefined of an if-expression without else prints "".
    assert_eq!(s("a{{ 'x' if false }}b"), "ab");
    let err = e("{{ x | mandatory }}", json!({}));
    assert_eq!(err.msg, "Mandatory variable 'x' not defined.");
    let err = e("{{ x | mandatory('custom') }}", json!({}));
    assert_eq!(err.msg, "custom");
}

#[test]
fn conditionals() {
    assert!(b("x == 1", json!({"x": 1})));
    assert!(!b("x is defined", json!({})));
    assert!(b("missing is undefined", json!({})));
    assert!(!b("missing | default(false)", json!({})));
    assert!(b("foo is defined and foo == 'bar'", json!({"foo": "bar"})));
    assert!(!b("foo is defined and foo == 'bar'", json!({})));
    assert!(b("{{ x }}", json!({"x": true})));
    assert!(b("True", json!({})));
    let tp = t();
    let sc = Scope::new();
    assert_eq!(
        tp.eval_bool("missing", &sc).unwrap_err().msg,
        "'missing' is undefined"
    );
    assert_eq!(
        tp.eval_bool("not missing", &sc).unwrap_err().msg,
        "'missing' is undefined"
    );
    let err = tp
        .eval_bool("x", &scope_with(json!({"x": "yes"})))
        .unwrap_err();
    assert_eq!(
        err.msg,
        "Conditional result was 'yes' of type 'str', which evaluates to True. Conditionals must have a boolean result."
    );
    // `and` stops at the first false operand: later undefined names are
    // never looked at, as in Ansible; reached ones still fail.
    assert!(!b(
        "xx is defined and xx.stdout != '' and yy.stdout != 'D'",
        json!({})
    ));
    assert_eq!(
        tp.eval_bool("yy.stdout == 'x' and false", &sc)
            .unwrap_err()
            .msg,
        "'yy' is undefined"
    );
    // A test that swallows an undefined operand into a boolean still
    // reports it when rendered.
    let err = tp.render(&json!("{{ 'x' in nope }}"), &sc).unwrap_err();
    assert_eq!(err.msg, "'nope' is undefined");
    assert_eq!(
        tp.render(&json!("{{ nope is defined }}"), &sc).unwrap(),
        json!(false)
    );
    // A template inside a string constant of a conditional is rendered.
    assert!(b("\"{{'hi'}}\" == \"hi\"", json!({})));
    assert!(b("'{{ x }}-y' == '1-y'", json!({"x": 1})));
    // A template computing a string is not evaluated as an expression.
    let err = tp.eval_bool("{{ '1 == 1' }}", &sc).unwrap_err();
    assert!(
        err.msg
            .starts_with("Encountered untrusted template or expression."),
        "{}",
        err.msg
    );
    assert!(b("{{ 1 == 1 }}", json!({})));
    let err = tp
        .eval_bool("x | length", &scope_with(json!({"x": []})))
        .unwrap_err();
    assert!(
        err.msg.contains("of type 'int', which evaluates to False"),
        "{}",
        err.msg
    );
}

#[test]
fn eval_and_syntax_check() {
    let tp = t();
    assert_eq!(
        tp.eval(
            "x | map('int') | list",
            &scope_with(json!({"x": ["1", "2"]}))
        )
        .unwrap(),
        json!([1, 2])
    );
    assert_eq!(
        tp.eval("missing", &Scope::new()).unwrap_err().msg,
        "'missing' is undefined"
    );
    assert!(
        tp.check_syntax("{{ a }} and {% if x %}y{% endif %}")
            .is_ok()
    );
    assert!(tp.check_syntax("no template").is_ok());
    let err = tp.check_syntax("{{ a | }}").unwrap_err();
    assert!(
        err.msg
            .starts_with("template error while templating string:"),
        "{}",
        err.msg
    );
    assert!(tp.check_syntax("{% if x %}").is_err());
}

// ---------------------------------------------------------------------
// render_file

#[test]
fn render_file_options() {
    let tp = t();
    let sc = scope_with(json!({"items": ["a", "b"], "name": "web"}));
    let text = "{% for i in items %}\n  {{ i }}\n{% endfor %}\nend\n";
    let out = tp
        .render_file(text, "x.j2", &sc, &FileOptions::default())
        .unwrap();
    assert_eq!(out, "  a\n  b\nend\n");
    let opts = FileOptions {
        trim_blocks: false,
        ..FileOptions::default()
    };
    assert_eq!(
        tp.render_file(text, "x.j2", &sc, &opts).unwrap(),
        "\n  a\n\n  b\n\nend\n"
    );
    let text = "x\n    {% if true %}\nyes\n    {% endif %}\n";
    let opts = FileOptions {
        lstrip_blocks: true,
        ..FileOptions::default()
    };
    assert_eq!(
        tp.render_file(text, "x.j2", &sc, &opts).unwrap(),
        "x\nyes\n"
    );
    let opts = FileOptions {
        variable_start_string: Some("[[".into()),
        variable_end_string: Some("]]".into()),
        ..FileOptions::default()
    };
    assert_eq!(
        tp.render_file("n=[[ name ]] {{ raw }}\n", "x", &sc, &opts)
            .unwrap(),
        "n=web {{ raw }}\n"
    );
    let opts = FileOptions {
        newline_sequence: "\r\n".into(),
        ..FileOptions::default()
    };
    assert_eq!(
        tp.render_file("a\nb\n", "x", &sc, &opts).unwrap(),
        "a\r\nb\r\n"
    );
    // A `#jinja2:` first line overrides the options for that file.
    assert_eq!(
        tp.render_file(
            "#jinja2: line_statement_prefix: ':', trim_blocks: False\n: if true\nyes\n: endif\n",
            "x",
            &sc,
            &FileOptions::default()
        )
        .unwrap(),
        "yes\n"
    );
    let err = tp
        .render_file(
            "#jinja2: lstrip_blocks=True\nx\n",
            "x",
            &sc,
            &FileOptions::default(),
        )
        .unwrap_err();
    assert!(
        err.msg.contains("Missing key-value separator"),
        "{}",
        err.msg
    );
    let opts = FileOptions {
        keep_trailing_newline: false,
        ..FileOptions::default()
    };
    assert_eq!(tp.render_file("a\n", "x", &sc, &opts).unwrap(), "a");
    let err = tp
        .render_file("line1\n{{ nope }}\n", "x", &sc, &FileOptions::default())
        .unwrap_err();
    assert_eq!(err.msg, "'nope' is undefined");
    assert_eq!(err.line, Some(2));
    // No HTML escaping whatever the file name.
    assert_eq!(
        tp.render_file("{{ '<a>' }}", "x.html", &sc, &FileOptions::default())
            .unwrap(),
        "<a>"
    );
    // Python-style printing inside files too.
    assert_eq!(
        tp.render_file("{{ items }}", "x", &sc, &FileOptions::default())
            .unwrap(),
        "['a', 'b']"
    );
}

// ---------------------------------------------------------------------
// Filters

#[test]
fn filters_defaults_and_types() {
    assert_eq!(s("{{ '' | default('x', true) }}"), "x");
    assert_eq!(s("{{ '' | default('x') }}"), "");
    assert_eq!(s("{{ missing | d('x') }}"), "x");
    for (input, want) in [
        ("'yes'", true),
        ("'no'", false),
        ("'on'", true),
        ("'off'", false),
        ("1", true),
        ("0", false),
        ("'true'", true),
        ("'False'", false),
        ("'1'", true),
    ] {
        assert_eq!(
            r(&format!("{{{{ {input} | bool }}}}")),
            json!(want),
            "{input}"
        );
    }
    assert_eq!(r("{{ '42' | int }}"), json!(42));
    assert_eq!(r("{{ 'x' | int }}"), json!(0));
    assert_eq!(r("{{ 'x' | int(7) }}"), json!(7));
    assert_eq!(r("{{ '0x1F' | int(base=16) }}"), json!(31));
    assert_eq!(r("{{ '3.9' | int }}"), json!(3));
    assert_eq!(r("{{ '1.5' | float }}"), json!(1.5));
    assert_eq!(r("{{ 'x' | float }}"), json!(0.0));
    assert_eq!(r("{{ 12 | string }}"), json!("12"));
    assert_eq!(r("{{ 'ab' | list }}"), json!(["a", "b"]));
    assert_eq!(r("{{ [1, 2, 3] | length }}"), json!(3));
    assert_eq!(r("{{ 'abc' | count }}"), json!(3));
    assert_eq!(r("{{ [1, 'a', true] | join(',') }}"), json!("1,a,True"));
    assert_eq!(r("{{ 'a' | type_debug }}"), json!("str"));
    assert_eq!(r("{{ 1 | type_debug }}"), json!("int"));
    assert_eq!(r("{{ 1.0 | type_debug }}"), json!("float"));
    assert_eq!(r("{{ true | type_debug }}"), json!("bool"));
    assert_eq!(r("{{ [] | type_debug }}"), json!("list"));
    assert_eq!(r("{{ {} | type_debug }}"), json!("dict"));
    assert_eq!(r("{{ none | type_debug }}"), json!("NoneType"));
    assert_eq!(r("{{ true | ternary('y', 'n') }}"), json!("y"));
    assert_eq!(r("{{ false | ternary('y', 'n') }}"), json!("n"));
    assert_eq!(r("{{ none | ternary('y', 'n', 'z') }}"), json!("z"));
}

#[test]
fn filters_dicts() {
    assert_eq!(
        r("{{ {'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}, 'c': 3}) }}"),
        json!({"a": 1, "b": {"y": 2}, "c": 3})
    );
    assert_eq!(
        r("{{ {'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}}, recursive=true) }}"),
        json!({"a": 1, "b": {"x": 1, "y": 2}})
    );
    assert_eq!(
        r("{{ {'a': 1} | combine({'b': 2}, {'a': 3}) }}"),
        json!({"a": 3, "b": 2})
    );
    assert_eq!(
        r("{{ {'a': 1} | combine([{'b': 2}, {'c': 3}]) }}"),
        json!({"a": 1, "b": 2, "c": 3})
    );
    let lm = |mode: &str| {
        r(&format!(
            "{{{{ {{'l': [1, 2]}} | combine({{'l': [2, 3]}}, list_merge='{mode}') }}}}"
        ))
    };
    assert_eq!(lm("replace"), json!({"l": [2, 3]}));
    assert_eq!(lm("keep"), json!({"l": [1, 2]}));
    assert_eq!(lm("append"), json!({"l": [1, 2, 2, 3]}));
    assert_eq!(lm("prepend"), json!({"l": [2, 3, 1, 2]}));
    assert_eq!(lm("append_rp"), json!({"l": [1, 2, 3]}));
    assert_eq!(lm("prepend_rp"), json!({"l": [2, 3, 1]}));
    assert_eq!(
        r("{{ {'a': 1, 'b': 2} | dict2items }}"),
        json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    );
    assert_eq!(
        r("{{ {'a': 1} | dict2items(key_name='k', value_name='v') }}"),
        json!([{"k": "a", "v": 1}])
    );
    assert_eq!(
        r("{{ [{'key': 'a', 'value': 1}] | items2dict }}"),
        json!({"a": 1})
    );
    assert_eq!(
        r("{{ [{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v') }}"),
        json!({"a": 1})
    );
    assert_eq!(
        r("{{ {'b': 1, 'a': 2} | dictsort }}"),
        json!([["a", 2], ["b", 1]])
    );
    assert_eq!(
        rv(
            "{{ ['a', 'b'] | map('extract', d) | list }}",
            json!({"d": {"a": 1, "b": 2}})
        ),
        json!([1, 2])
    );
    assert_eq!(
        r("{{ [{'id': 'x', 'v': 1}] | rekey_on_member('id') }}"),
        json!({"x": {"id": "x", "v": 1}})
    );
}

#[test]
fn filters_regex() {
    assert_eq!(
        s("{{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\\\1') }}"),
        "able"
    );
    assert_eq!(
        s("{{ 'foobar' | regex_replace('(?P<x>o+)', '[\\\\g<x>]') }}"),
        "f[oo]bar"
    );
    assert_eq!(
        s("{{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}"),
        "AxC"
    );
    assert_eq!(s("{{ 'aaa' | regex_replace('a', 'b', count=2) }}"), "bba");
    assert_eq!(
        s("{{ 'a\nb' | regex_replace('^', '> ', multiline=true) }}"),
        "> a\n> b"
    );
    assert_eq!(
        s("{{ 'cost $5' | regex_replace('\\\\$(\\\\d)', 'USD\\\\1') }}"),
        "cost USD5"
    );
    assert_eq!(s("{{ 'foobar' | regex_replace('o(?=b)', '0') }}"), "fo0bar");
    assert_eq!(r("{{ 'server1' | regex_search('[0-9]+') }}"), json!("1"));
    assert_eq!(r("{{ 'server' | regex_search('[0-9]+') }}"), json!(null));
    assert_eq!(
        r("{{ 'key=val' | regex_search('(\\\\w+)=(\\\\w+)', '\\\\2', '\\\\1') }}"),
        json!(["val", "key"])
    );
    assert_eq!(
        r("{{ 'k=v' | regex_search('(?P<k>\\\\w)=', '\\\\g<k>') }}"),
        json!(["k"])
    );
    assert_eq!(
        r("{{ 'ABC' | regex_search('b', ignorecase=true) }}"),
        json!("B")
    );
    assert_eq!(
        r("{{ 'a1b22' | regex_findall('\\\\d+') }}"),
        json!(["1", "22"])
    );
    assert_eq!(
        r("{{ 'a=1 b=2' | regex_findall('(\\\\w)=(\\\\d)') }}"),
        json!([["a", "1"], ["b", "2"]])
    );
    assert_eq!(s("{{ 'a.b*c d' | regex_escape }}"), "a\\.b\\*c\\ d");
}

#[test]
fn filters_lists() {
    assert_eq!(r("{{ [1, [2, [3, [4]]]] | flatten }}"), json!([1, 2, 3, 4]));
    assert_eq!(
        r("{{ [1, [2, [3]]] | flatten(levels=1) }}"),
        json!([1, 2, [3]])
    );
    assert_eq!(r("{{ [1, none, [2]] | flatten }}"), json!([1, 2]));
    assert_eq!(r("{{ [1, 2, 1, 3] | unique }}"), json!([1, 2, 3]));
    assert_eq!(r("{{ [1, 2] | union([2, 3]) }}"), json!([1, 2, 3]));
    assert_eq!(r("{{ [1, 2, 3] | intersect([2, 3, 4]) }}"), json!([2, 3]));
    assert_eq!(r("{{ [1, 2, 3] | difference([2]) }}"), json!([1, 3]));
    assert_eq!(
        r("{{ [1, 2] | symmetric_difference([2, 3]) }}"),
        json!([1, 3])
    );
    assert_eq!(
        r("{{ ['a1', 'b', 'a2'] | select('match', 'a') | list }}"),
        json!(["a1", "a2"])
    );
    assert_eq!(
        r("{{ ['a1', 'b'] | reject('search', '1') | list }}"),
        json!(["b"])
    );
    assert_eq!(
        rv(
            "{{ l | selectattr('x', 'defined') | list }}",
            json!({"l": [{"x": 1}, {"y": 2}]})
        ),
        json!([{"x": 1}])
    );
    assert_eq!(
        rv(
            "{{ l | rejectattr('x', 'defined') | list }}",
            json!({"l": [{"x": 1}, {"y": 2}]})
        ),
        json!([{"y": 2}])
    );
    assert_eq!(
        rv(
            "{{ l | selectattr('x', 'equalto', 2) | map(attribute='n') | list }}",
            json!({"l": [{"x": 1, "n": "a"}, {"x": 2, "n": "b"}]})
        ),
        json!(["b"])
    );
    assert_eq!(r("{{ ['1', '2'] | map('int') | list }}"), json!([1, 2]));
    assert_eq!(r("{{ [3, 1, 2] | sort }}"), json!([1, 2, 3]));
    assert_eq!(r("{{ [3, 1, 2] | sort(reverse=true) }}"), json!([3, 2, 1]));
    assert_eq!(
        r("{{ [{'n': 2}, {'n': 1}] | sort(attribute='n') }}"),
        json!([{"n": 1}, {"n": 2}])
    );
    assert_eq!(r("{{ [1, 2, 3] | first }}"), json!(1));
    assert_eq!(r("{{ [1, 2, 3] | last }}"), json!(3));
    assert_eq!(r("{{ [4, 1, 9] | min }}"), json!(1));
    assert_eq!(r("{{ [4, 1, 9] | max }}"), json!(9));
    assert_eq!(
        r("{{ [{'a': 4}, {'a': 7}] | max(attribute='a') }}"),
        json!({"a": 7})
    );
    assert_eq!(r("{{ [1, 2, 3] | sum }}"), json!(6));
    assert_eq!(r("{{ [[1], [2]] | sum(start=[]) }}"), json!([1, 2]));
    assert_eq!(
        r("{{ [1, 2] | zip(['a', 'b']) | list }}"),
        json!([[1, "a"], [2, "b"]])
    );
    assert_eq!(
        r("{{ [1, 2] | zip_longest(['a']) | list }}"),
        json!([[1, "a"], [2, null]])
    );
    assert_eq!(
        r("{{ [1, 2] | product(['a', 'b']) | list }}"),
        json!([[1, "a"], [1, "b"], [2, "a"], [2, "b"]])
    );
    assert_eq!(
        r("{{ [1, 2, 3] | permutations(2) | list | length }}"),
        json!(6)
    );
    assert_eq!(
        r("{{ [1, 2, 3] | combinations(2) | list }}"),
        json!([[1, 2], [1, 3], [2, 3]])
    );
    assert_eq!(
        rv(
            "{{ users | subelements('keys') }}",
            json!({"users": [{"n": "a", "keys": [1, 2]}]})
        ),
        json!([[{"n": "a", "keys": [1, 2]}, 1], [{"n": "a", "keys": [1, 2]}, 2]])
    );
    assert_eq!(
        r("{{ [1, 2, 3, 4, 5] | batch(2) | list }}"),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(r("{{ -3 | abs }}"), json!(3));
    assert_eq!(r("{{ 2.567 | round(2) }}"), json!(2.57));
}

#[test]
fn filters_random_match_python() {
    // random.Random('web1').randrange(0, 60) == 52
    assert_eq!(r("{{ 60 | random(seed='web1') }}"), json!(52));
    assert_eq!(r("{{ 60 | random(seed='web1') }}"), json!(52));
    // random.Random('x').choice(['a', 'b', 'c', 'd']) == 'c'
    assert_eq!(
        r("{{ ['a', 'b', 'c', 'd'] | random(seed='x') }}"),
        json!("c")
    );
    // l = [1, 2, 3, 4, 5]; random.Random('seed').shuffle(l) -> [3, 5, 4, 1, 2]
    assert_eq!(
        r("{{ [1, 2, 3, 4, 5] | shuffle(seed='seed') }}"),
        json!([3, 5, 4, 1, 2])
    );
    let n = r("{{ 10 | random }}").as_i64().unwrap();
    assert!((0..10).contains(&n));
}

#[test]
fn filters_serialisation() {
    assert_eq!(
        s("{{ {'b': [1, 2.0], 'a': 'é'} | to_json }}"),
        "{\"b\": [1, 2.0], \"a\": \"\\u00e9\"}"
    );
    assert_eq!(
        s("{{ {'b': [1, 2.0], 'a': 'é'} | to_nice_json }}"),
        "{\n    \"a\": \"\\u00e9\",\n    \"b\": [\n        1,\n        2.0\n    ]\n}"
    );
    assert_eq!(
        s("{{ {'a': 1} | to_nice_json(indent=2) }}"),
        "{\n  \"a\": 1\n}"
    );
    assert_eq!(
        r("{{ '{\"a\": [1, true]}' | from_json }}"),
        json!({"a": [1, true]})
    );
    assert_eq!(
        s("{{ {'b': [1, 2], 'a': {'c': 'd'}} | to_yaml }}"),
        "a: {c: d}\nb: [1, 2]\n"
    );
    assert_eq!(
        s("{{ {'l': [{'x': 1, 'y': 'yes'}], 'e': ''} | to_nice_yaml }}"),
        "e: ''\nl:\n-   x: 1\n    y: 'yes'\n"
    );
    assert_eq!(
        r("{{ 'a: 1\nb: [x, yes]' | from_yaml }}"),
        json!({"a": 1, "b": ["x", true]})
    );
    assert_eq!(
        r("{{ '---\na: 1\n---\nb: 2\n' | from_yaml_all }}"),
        json!([{"a": 1}, {"b": 2}])
    );
}

#[test]
fn filters_hashing_and_encoding() {
    assert_eq!(
        s("{{ 'hello' | hash('sha1') }}"),
        "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    );
    assert_eq!(
        s("{{ 'hello' | hash('md5') }}"),
        "5d41402abc4b2a76b9719d911017c592"
    );
    assert_eq!(
        s("{{ 'hello' | hash('sha256') }}"),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(
        s("{{ 'hello' | hash('sha512') }}"),
        "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"
    );
    assert_eq!(
        s("{{ 'hello' | checksum }}"),
        "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    );
    assert_eq!(
        s("{{ 'hello' | sha1 }}"),
        "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    );
    assert_eq!(s("{{ 'hello' | md5 }}"), "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(s("{{ 'hello' | b64encode }}"), "aGVsbG8=");
    assert_eq!(s("{{ 'aGVsbG8=' | b64decode }}"), "hello");
    // openssl passwd -6 -salt saltsalt secret
    assert_eq!(
        s("{{ 'secret' | password_hash('sha512', 'saltsalt') }}"),
        "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
    );
    assert_eq!(
        s("{{ 'secret' | password_hash('sha512', salt='saltsalt') }}"),
        "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
    );
    assert!(s("{{ 'x' | password_hash('sha512') }}").starts_with("$6$"));
    assert_eq!(
        s("{{ 'example.com' | to_uuid }}"),
        "ae780c3a-a3ab-53c2-bfb4-098da300b3fe"
    );
}

#[test]
fn filters_paths() {
    assert_eq!(s("{{ '/etc/ssh/sshd_config' | basename }}"), "sshd_config");
    assert_eq!(s("{{ '/etc/ssh/sshd_config' | dirname }}"), "/etc/ssh");
    assert_eq!(
        r("{{ '/a/b.tar.gz' | splitext }}"),
        json!(["/a/b.tar", ".gz"])
    );
    assert_eq!(r("{{ '.bashrc' | splitext }}"), json!([".bashrc", ""]));
    assert_eq!(s("{{ ['/etc', 'ssh', 'x'] | path_join }}"), "/etc/ssh/x");
    assert_eq!(s("{{ ['a', '/b', 'c'] | path_join }}"), "/b/c");
    assert_eq!(s("{{ '/a//b/./c/../d' | normpath }}"), "/a/b/d");
    assert_eq!(s("{{ '/a/b/c' | relpath('/a/x') }}"), "../b/c");
    let home = std::env::var("HOME").unwrap();
    assert_eq!(s("{{ '~/x' | expanduser }}"), format!("{home}/x"));
    assert_eq!(s("{{ '$HOME/y' | expandvars }}"), format!("{home}/y"));
    assert_eq!(s("{{ '/' | realpath }}"), "/");
    assert_eq!(s("{{ 'a b' | quote }}"), "'a b'");
    assert_eq!(s("{{ 'simple' | quote }}"), "simple");
    assert_eq!(s("{{ \"it's\" | quote }}"), "'it'\"'\"'s'");
}

#[test]
fn filters_text() {
    assert_eq!(s("{{ 'Hello' | comment }}"), "#\n# Hello\n#");
    assert_eq!(s("{{ 'a\nb' | comment('c') }}"), "//\n// a\n// b\n//");
    assert_eq!(s("{{ 'x' | comment('cblock') }}"), "/*\n *\n * x\n *\n */");
    assert_eq!(s("{{ 'x' | comment('xml') }}"), "<!--\n -\n - x\n -\n-->");
    assert_eq!(
        s("{{ 'x' | comment(decoration='; ', prefix='', postfix='') }}"),
        "; x\n"
    );
    assert_eq!(s("{{ 'a,b' | split(',') | join('|') }}"), "a|b");
    assert_eq!(
        s("{{ 'Hello' | lower }}-{{ 'x' | upper }}-{{ 'ab cd' | title }}-{{ 'ab' | capitalize }}"),
        "hello-X-Ab Cd-Ab"
    );
    assert_eq!(s("{{ 'aXa' | replace('a', 'b') }}"), "bXb");
    assert_eq!(s("{{ '  x ' | trim }}"), "x");
    assert_eq!(s("{{ 'a\nb' | indent(2) }}"), "a\n  b");
    assert_eq!(s("{{ 'aaa bbb ccc' | wordwrap(7) }}"), "aaa bbb\nccc");
    assert_eq!(
        s("{{ 'hello world foo bar baz' | truncate(11) }}"),
        "hello..."
    );
    assert_eq!(s("{{ 1024 | human_readable }}"), "1.00 KB");
    assert_eq!(s("{{ 500 | human_readable }}"), "500.00 Bytes");
    assert_eq!(s("{{ 1048576 | human_readable(unit='K') }}"), "1024.00 KB");
    assert_eq!(r("{{ '10 MB' | human_to_bytes }}"), json!(10485760));
    assert_eq!(r("{{ '1K' | human_to_bytes }}"), json!(1024));
    assert_eq!(r("{{ '1.5 KB' | human_to_bytes }}"), json!(1536));
    assert_eq!(r("{{ 8 | log(2) }}"), json!(3.0));
    assert_eq!(r("{{ 2 | pow(10) }}"), json!(1024.0));
    assert_eq!(r("{{ 27 | root(3) }}"), json!(3.0));
    assert_eq!(r("{{ 16 | root }}"), json!(4.0));
    assert_eq!(s("{{ '%Y-%m-%d' | strftime(0, utc=true) }}"), "1970-01-01");
    assert_eq!(s("{{ '%H:%M:%S' | strftime(3661, utc=true) }}"), "01:01:01");
    assert_eq!(
        r("{{ ('2024-03-05 10:20:30' | to_datetime).year }}"),
        json!(2024)
    );
    assert_eq!(
        r("{{ ('2024-03-05' | to_datetime('%Y-%m-%d')).day }}"),
        json!(5)
    );
    assert_eq!(
        r("{{ 'https://u:p@Example.com:8080/p/a?x=1#f' | urlsplit }}"),
        json!({"fragment": "f", "hostname": "example.com", "netloc": "u:p@Example.com:8080", "password": "p", "path": "/p/a", "port": 8080, "query": "x=1", "scheme": "https", "username": "u"})
    );
    assert_eq!(r("{{ 'http://h/x' | urlsplit('hostname') }}"), json!("h"));
}

// ---------------------------------------------------------------------
// Tests

#[test]
fn jinja_tests() {
    let res = json!({"ok": {"changed": true, "failed": false}, "bad": {"failed": true}, "skip": {"skipped": true, "changed": false}, "unr": {"unreachable": true}, "loop": {"results": [{"changed": false}, {"changed": true}]}, "async": {"finished": 1, "started": 1}});
    assert!(b(
        "ok is succeeded and ok is success and ok is changed and ok is change",
        res.clone()
    ));
    assert!(b(
        "bad is failed and bad is failure and bad is not succeeded",
        res.clone()
    ));
    assert!(b(
        "skip is skipped and skip is skip and skip is not changed",
        res.clone()
    ));
    assert!(b("unr is unreachable and ok is reachable", res.clone()));
    assert!(b("loop is changed", res.clone()));
    assert!(b("async is finished and async is started", res.clone()));
    assert!(b("'abc' is match('ab')", json!({})));
    assert!(!b("'abc' is match('bc')", json!({})));
    assert!(b("'abc' is search('bc')", json!({})));
    assert!(b("'ABC' is match('ab', ignorecase=true)", json!({})));
    assert!(b("'abc' is regex('b')", json!({})));
    assert!(!b("'abc' is regex('b', match_type='match')", json!({})));
    assert!(b("'1.10' is version('1.9', '>')", json!({})));
    assert!(b("'1.10' is version_compare('1.9', 'gt')", json!({})));
    assert!(b("'2.0' is version('2.0', '==')", json!({})));
    assert!(b("'2.0' is version('2.1', 'lt')", json!({})));
    assert!(b("'2.0' is version('2.0', '<=')", json!({})));
    assert!(b("'2.0' is version('1.0', 'ge')", json!({})));
    assert!(b("'2.0' is version('1.0', '!=')", json!({})));
    assert!(b("'2.0' is version('1.0', '<>')", json!({})));
    assert!(b("'1.0a1' is version('1.0', '<', strict=true)", json!({})));
    assert!(b(
        "'1.0.0-rc.1' is version('1.0.0', 'lt', version_type='semver')",
        json!({})
    ));
    assert!(b(
        "[1, 2] is subset([1, 2, 3]) and [1, 2, 3] is superset([3])",
        json!({})
    ));
    assert!(b(
        "[1, 2] is contains(2) and not ([1] is contains(3))",
        json!({})
    ));
    assert!(b(
        "[true, false] is any and not ([true, false] is all)",
        json!({})
    ));
    assert!(b(
        "'x' is string and 1 is number and 1 is integer and 1.5 is float",
        json!({})
    ));
    assert!(b(
        "{} is mapping and [] is sequence and 'x' is sequence and [] is iterable",
        json!({})
    ));
    assert!(b(
        "true is boolean and none is none and x is none",
        json!({"x": null})
    ));
    assert!(b(
        "'yes' is truthy(convert_bool=true) and 'no' is falsy(convert_bool=true)",
        json!({})
    ));
    assert!(b("'no' is truthy and 0 is falsy", json!({})));
    assert!(b(
        "'/' is directory and '/' is exists and '/' is abs and 'x' is not abs",
        json!({})
    ));
    assert!(b(
        "'/' is not file and '/nonexistent' is not exists",
        json!({})
    ));
    assert!(b("'/' is same_file('/')", json!({})));
    assert!(b("'/' is mount", json!({})));
    assert!(b("('nan' | float) is nan and not (1.0 is nan)", json!({})));
    assert!(b(
        "10 is divisibleby(5) and 2 is even and 3 is odd and 1 is in([1])",
        json!({})
    ));
    assert!(b(
        "'$ANSIBLE_VAULT;1.1;AES256\n6162' is vault_encrypted and 'x' is not vault_encrypted",
        json!({})
    ));
    assert!(b(
        "'https://x.org/a' is url and 'mailto:a@b' is uri and 'urn:isbn:123' is urn",
        json!({})
    ));
    assert!(b(
        "'https://x.org' is url(schemes=['https']) and not ('ftp://x' is url(schemes=['https']))",
        json!({})
    ));
    assert!(b("'x' is not url", json!({})));
}

#[test]
fn file_tests_on_real_files() {
    let dir = tmpdir();
    let f = dir.path().join("f");
    std::fs::write(&f, "x").unwrap();
    std::os::unix::fs::symlink(&f, dir.path().join("l")).unwrap();
    let vars = json!({"f": f, "l": dir.path().join("l"), "d": dir.path()});
    assert!(b(
        "f is file and d is directory and l is link and f is exists",
        vars.clone()
    ));
    assert!(b("l is same_file(f) and f is not link", vars));
}

// ---------------------------------------------------------------------
// Lookups

fn files_scope(dir: &std::path::Path, vars: Value) -> Scope {
    let mut sc = scope_with(vars);
    sc.set_search_paths(vec![dir.to_path_buf()]);
    sc
}

#[test]
fn lookups_files_and_env() {
    let dir = tmpdir();
    let p = dir.path();
    std::fs::create_dir_all(p.join("files")).unwrap();
    std::fs::create_dir_all(p.join("templates")).unwrap();
    std::fs::write(p.join("files/a.txt"), "  hello\n\n").unwrap();
    std::fs::write(p.join("top.txt"), "top\n").unwrap();
    std::fs::write(p.join("templates/t.j2"), "name={{ name }}\n").unwrap();
    std::fs::write(p.join("files/x.conf"), "").unwrap();
    std::fs::write(p.join("files/y.conf"), "").unwrap();
    std::fs::write(p.join("files/data.csv"), "alice,30,admin\nbob,25,user\n").unwrap();
    std::fs::write(
        p.join("files/conf.ini"),
        "[main]\nuser = root\nport=22\n[other]\nuser = x\n",
    )
    .unwrap();
    let sc = files_scope(p, json!({"name": "web", "greeting": "{{ 'hi' }}"}));
    let tp = t();
    let r = |tpl: &str| {
        tp.render_str(tpl, &sc)
            .unwrap_or_else(|e| panic!("{tpl}: {e}"))
    };
    assert_eq!(r("{{ lookup('file', 'a.txt') }}"), json!("  hello"));
    assert_eq!(
        r("{{ lookup('file', 'a.txt', lstrip=true) }}"),
        json!("hello")
    );
    assert_eq!(
        r("{{ lookup('file', 'a.txt', rstrip=false) }}"),
        json!("  hello\n\n")
    );
    assert_eq!(r("{{ lookup('file', 'top.txt') }}"), json!("top"));
    assert!(
        tp.render_str("{{ lookup('file', 'nope.txt') }}", &sc)
            .unwrap_err()
            .msg
            .contains("could not locate file in lookup: nope.txt")
    );
    assert_eq!(r("{{ lookup('template', 't.j2') }}"), json!("name=web\n"));
    assert_eq!(r("{{ lookup('vars', 'greeting') }}"), json!("hi"));
    assert_eq!(r("{{ lookup('vars', 'nope', default='d') }}"), json!("d"));
    assert_eq!(
        r("{{ lookup('env', 'HOME') }}"),
        json!(std::env::var("HOME").unwrap())
    );
    assert_eq!(
        r("{{ lookup('env', 'TUTTI_SURELY_UNSET', default='x') }}"),
        json!("x")
    );
    assert_eq!(
        r("{{ lookup('pipe', 'echo hi; echo there') }}"),
        json!("hi\nthere")
    );
    assert_eq!(
        r("{{ query('lines', 'printf \"a\\nb\\n\"') }}"),
        json!(["a", "b"])
    );
    let globbed = r("{{ query('fileglob', '*.conf') }}");
    let names: Vec<String> = globbed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            PathBuf::from(v.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, vec!["x.conf", "y.conf"]);
    let ff = r("{{ lookup('first_found', ['missing.txt', 'a.txt']) }}");
    assert!(ff.as_str().unwrap().ends_with("files/a.txt"));
    let ff = tp
        .render_str(
            &format!(
                "{{{{ lookup('first_found', files=['nope', 'top.txt'], paths=['{}']) }}}}",
                p.display()
            ),
            &sc,
        )
        .unwrap();
    assert_eq!(ff, json!(p.join("top.txt").to_string_lossy()));
    assert_eq!(
        r("{{ query('first_found', ['nope'], skip=true) }}"),
        json!([])
    );
    assert!(
        tp.render_str("{{ lookup('first_found', ['nope']) }}", &sc)
            .unwrap_err()
            .msg
            .contains("No file was found")
    );
    assert_eq!(
        r("{{ lookup('csvfile', 'bob file=data.csv delimiter=,') }}"),
        json!("25")
    );
    assert_eq!(
        r("{{ lookup('csvfile', 'alice', file='data.csv', delimiter=',', col=2) }}"),
        json!("admin")
    );
    assert_eq!(
        r("{{ lookup('ini', 'user', section='main', file='conf.ini') }}"),
        json!("root")
    );
    assert_eq!(
        r("{{ lookup('ini', 'port section=main file=conf.ini') }}"),
        json!("22")
    );
    assert_eq!(
        r("{{ lookup('ini', 'nope', section='main', file='conf.ini', default='dflt') }}"),
        json!("dflt")
    );
}

#[test]
fn lookup_password_is_stable() {
    let dir = tmpdir();
    let sc = files_scope(dir.path(), json!({}));
    let tp = t();
    let path = dir.path().join("creds/pw");
    let tpl = format!(
        "{{{{ lookup('password', '{} length=12 chars=digits') }}}}",
        path.display()
    );
    let first = tp.render_str(&tpl, &sc).unwrap();
    let pw = first.as_str().unwrap();
    assert_eq!(pw.len(), 12);
    assert!(pw.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(tp.render_str(&tpl, &sc).unwrap(), first);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), pw);
    let dn = tp
        .render_str("{{ lookup('password', '/dev/null length=8') }}", &sc)
        .unwrap();
    assert_eq!(dn.as_str().unwrap().len(), 8);
}

#[test]
fn lookups_data() {
    // Terms are flattened one level, as Ansible's `items` lookup does.
    assert_eq!(
        r("{{ lookup('items', [1, [2, 3]], wantlist=true) }}"),
        json!([1, [2, 3]])
    );
    assert_eq!(
        r("{{ lookup('items', [1], [2, 3], wantlist=true) }}"),
        json!([1, 2, 3])
    );
    assert_eq!(r("{{ query('list', [1, [2, 3]]) }}"), json!([1, [2, 3]]));
    assert_eq!(
        r("{{ query('dict', {'a': 1}) }}"),
        json!([{"key": "a", "value": 1}])
    );
    assert_eq!(
        r("{{ query('indexed_items', ['a', 'b']) }}"),
        json!([[0, "a"], [1, "b"]])
    );
    assert_eq!(
        r("{{ query('nested', ['a', 'b'], [1, 2]) }}"),
        json!([["a", 1], ["a", 2], ["b", 1], ["b", 2]])
    );
    assert_eq!(
        r("{{ query('together', ['a', 'b'], [1]) }}"),
        json!([["a", 1], ["b", null]])
    );
    assert_eq!(
        rv(
            "{{ query('subelements', users, 'keys') }}",
            json!({"users": [{"n": "a", "keys": ["k1"]}]})
        ),
        json!([[{"n": "a", "keys": ["k1"]}, "k1"]])
    );
    assert_eq!(
        r("{{ query('sequence', 'start=1 end=3 format=web%02d') }}"),
        json!(["web01", "web02", "web03"])
    );
    assert_eq!(
        r("{{ query('sequence', start=0, count=3, stride=2) }}"),
        json!(["0", "2", "4"])
    );
    assert_eq!(r("{{ query('sequence', '4-6') }}"), json!(["4", "5", "6"]));
    assert_eq!(
        r("{{ lookup('sequence', 'start=1 end=3') }}"),
        json!("1,2,3")
    );
    let choice = r("{{ lookup('random_choice', 'a', 'b') }}");
    assert!(choice == json!("a") || choice == json!("b"));
    assert_eq!(
        rv(
            "{{ query('varnames', '^app_') }}",
            json!({"app_a": 1, "other": 2, "app_b": 3})
        ),
        json!(["app_a", "app_b"])
    );
    let groups = json!({"groups": {"all": ["w1", "w2", "d1"], "web": ["w1", "w2"], "db": ["d1"], "ungrouped": []}});
    assert_eq!(
        rv("{{ query('inventory_hostnames', 'web') }}", groups.clone()),
        json!(["w1", "w2"])
    );
    assert_eq!(
        rv(
            "{{ query('inventory_hostnames', 'all:!db') }}",
            groups.clone()
        ),
        json!(["w1", "w2"])
    );
    assert_eq!(
        rv(
            "{{ query('inventory_hostnames', 'web:db') }}",
            groups.clone()
        ),
        json!(["w1", "w2", "d1"])
    );
    assert_eq!(
        rv(
            "{{ query('inventory_hostnames', 'all:&db') }}",
            groups.clone()
        ),
        json!(["d1"])
    );
    assert_eq!(
        rv("{{ lookup('inventory_hostnames', 'all') }}", groups),
        json!("w1,w2,d1")
    );
    assert_eq!(
        r("{{ lookup('nope_plugin', 'x', errors='ignore') }}"),
        json!(null)
    );
    assert!(
        e("{{ lookup('nope_plugin', 'x') }}", json!({}))
            .msg
            .contains("lookup plugin (nope_plugin) not found")
    );
}

#[test]
fn lookup_joins_strings_like_ansible() {
    assert_eq!(r("{{ lookup('items', ['a', 'b']) }}"), json!("a,b"));
    assert_eq!(r("{{ lookup('items', [1, 2]) }}"), json!([1, 2]));
    assert_eq!(r("{{ lookup('vars', 'x', default=[1]) }}"), json!([1]));
    assert_eq!(
        rv("{{ lookup('vars', 'x') }}", json!({"x": [1, 2]})),
        json!([1, 2])
    );
    assert_eq!(r("{{ q('items', 'a') }}"), json!(["a"]));
}

#[test]
fn with_loops() {
    let tp = t();
    let sc = scope_with(json!({"xs": ["a", "b"], "d": {"k": 1}}));
    // The engine templates the terms, then hands them over.
    let lp = |name: &str, terms: Value| {
        let rendered = tp.render(&terms, &sc).unwrap();
        lookup_loop(&tp, name, rendered, &sc).unwrap()
    };
    assert_eq!(
        lp("items", json!([[1, 2], 3])),
        vec![json!(1), json!(2), json!(3)]
    );
    assert_eq!(lp("items", json!("{{ xs }}")), vec![json!("a"), json!("b")]);
    assert_eq!(
        lp("list", json!([[1, 2], 3])),
        vec![json!([1, 2]), json!(3)]
    );
    assert_eq!(
        lp("dict", json!("{{ d }}")),
        vec![json!({"key": "k", "value": 1})]
    );
    assert_eq!(lp("indexed_items", json!(["x"])), vec![json!([0, "x"])]);
    assert_eq!(
        lp("nested", json!([["a"], [1, 2]])),
        vec![json!(["a", 1]), json!(["a", 2])]
    );
    assert_eq!(
        lp("together", json!([["a", "b"], [1, 2]])),
        vec![json!(["a", 1]), json!(["b", 2])]
    );
    assert_eq!(
        lp("sequence", json!("start=1 end=2")),
        vec![json!("1"), json!("2")]
    );
    assert_eq!(
        lp("subelements", json!([[{"n": 1, "s": ["x"]}], "s"])),
        vec![json!([{"n": 1, "s": ["x"]}, "x"])]
    );
    // Already-templated terms are not templated again.
    let got = lookup_loop(
        &tp,
        "items",
        json!(["{{ lookup('pipe', 'echo no') }}"]),
        &sc,
    )
    .unwrap();
    assert_eq!(got, vec![json!("{{ lookup('pipe', 'echo no') }}")]);
    let err = tp.render(&json!("{{ missing }}"), &sc).unwrap_err();
    assert_eq!(err.msg, "'missing' is undefined");
}

#[test]
fn python_methods_work() {
    assert_eq!(s("{{ 'a,b'.split(',') | join('-') }}"), "a-b");
    assert_eq!(r("{{ {'a': 1}.items() | list }}"), json!([["a", 1]]));
    assert_eq!(r("{{ 'abc'.startswith('a') }}"), json!(true));
    assert_eq!(s("{{ ' x '.strip() }}"), "x");
}

#[test]
fn loop_controls_and_namespace() {
    assert_eq!(
        s("{% for i in [1, 2, 3] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}"),
        "13"
    );
    assert_eq!(
        s("{% for i in [1, 2, 3] %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
        "1"
    );
    assert_eq!(
        s(
            "{% set ns = namespace(c=0) %}{% for i in [1, 2] %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}"
        ),
        "3"
    );
    assert_eq!(
        s("{% for i in [1, 2] %}{{ loop.index }}{{ ',' if not loop.last }}{% endfor %}"),
        "1,2"
    );
}

#[test]
fn now_global_gives_a_datetime_or_a_formatted_string() {
    let year: i64 = s("{{ now(fmt='%Y') }}").parse().unwrap();
    assert!(year >= 2024, "{year}");
    // Python's %f: six digits of microseconds.
    let frac = s("{{ now(utc=true, fmt='%s.%f') }}");
    let (secs, micros) = frac.split_once('.').unwrap();
    assert!(secs.parse::<i64>().unwrap() > 1_700_000_000);
    assert_eq!(micros.len(), 6, "{frac}");
    assert!(b("now().year >= 2024 and now().timestamp() > 0", json!({})));
    assert!(b("now(true).strftime('%H') | int < 24", json!({})));
    // A bad format code is a template error, not a crash.
    let _ = t().render_str("{{ now(fmt='%Q') }}", &scope_with(json!({})));
}

#[test]
fn python_list_index_and_count() {
    assert_eq!(r("{{ ['a', 'b', 'c'].index('b') }}"), json!(1));
    assert_eq!(r("{{ [1, 2, 1].count(1) }}"), json!(2));
    assert!(
        t().render_str("{{ ['a'].index('z') }}", &scope_with(json!({})))
            .is_err()
    );
    // str methods still come from pycompat.
    assert_eq!(s("{{ 'abc'.upper() }}"), "ABC");
}

// ---------------------------------------------------------------------
// Python Jinja syntax minijinja reads differently

#[test]
fn unary_plus_is_the_identity_on_numbers() {
    assert_eq!(r("{{ [-2.5, +2.5, 1 + 2.5] }}"), json!([-2.5, 2.5, 3.5]));
    assert_eq!(rv("{{ +n * 2 }}", json!({"n": 4})), json!(8));
    assert_eq!(
        s("[1 + 2] + {{ [+1] }} {{ '+' ~ '+1' }}"),
        "[1 + 2] + [1] ++1"
    );
}

#[test]
fn a_missing_list_element_is_worded_as_ansible_and_lazy_vars_keep_the_error() {
    let vars = json!({"foo": [], "bar": "{{ foo[0] }}"});
    for tpl in ["{{ foo[0] }}", "x {{ foo[0] }}", "{{ bar }}", "x {{ bar }}"] {
        let err = e(tpl, vars.clone());
        assert!(
            err.to_string().contains("list object has no element 0"),
            "{tpl}: {err}"
        );
    }
    // Still only undefined, not an error, where a test looks at it.
    assert!(!b("bar is defined", vars));
}
