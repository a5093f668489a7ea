//! The POSIX `sh` scripts behind the file layer ([`super`]): each runs as
//! `sh -c SCRIPT sh ARG...`, takes every path and value as a positional
//! argument, and reports through its exit status, NUL-delimited output and
//! a `\0TUTTI:` marker on stderr. Every process a script starts costs the
//! target about a millisecond and a half, so they lean on shell builtins.

/// Shared prologue: C locale, a newline, and `fail CODE MSG` which prints
/// a marker and the message on stderr, removes the temp file, and exits.
pub(super) const PRELUDE: &str = r#"LC_ALL=C; export LC_ALL
nl='
'
t=
fail() { c=$1; shift; [ -n "$t" ] && rm -f -- "$t"; printf '\0TUTTI:%s' "$*" >&2; exit "$c"; }
dirof() { case $1 in */*) D=${1%/*}; [ -n "$D" ] || D=/;; *) D=.;; esac; }
"#;

/// `$1` path, `$2` follow (1/0), `$3` checksum algorithm or empty, `$4`
/// mime (1/0), `$5` content limit (empty: none, `all`: any size).
/// Output: NUL-separated `key value` pairs; `missing` alone when the path
/// does not exist; `content` last, running to the end.
pub const STAT_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
nl='
'
p=$1 L=
[ "$2" = 1 ] && L=-L
F="%f %u %g %s %i %d %h %.9X %.9Y %.9Z${nl}%U${nl}%G"
# Missing in a directory we may search: said without starting `stat`.
if ! [ -e "$p" ] && ! [ -L "$p" ]; then
  case $p in */*) D=${p%/*}; [ -n "$D" ] || D=/;; *) D=.;; esac
  if [ -d "$D" ] && [ -x "$D" ]; then printf 'missing\0'; exit 0; fi
fi
if ! s=$(stat $L -c "$F" -- "$p" 2>&1); then
  case $s in *"No such file or directory"*|*"Not a directory"*) printf 'missing\0'; exit 0;; esac
  printf '%s\n' "$s" >&2; exit 3
fi
printf 'stat\0%s\0' "$s"
r=0 w=0 x=0
[ -r "$p" ] && r=1; [ -w "$p" ] && w=1; [ -x "$p" ] && x=1
printf 'access\0%s%s%s\0' "$r" "$w" "$x"
islink=0
[ -z "$L" ] && [ -L "$p" ] && islink=1
if [ "$islink" = 1 ]; then
  v=$(readlink -- "$p"; echo .); v=${v%.}; v=${v%"$nl"}
  printf 'lnk_target\0%s\0' "$v"
  if v=$(readlink -f -- "$p" && echo .); then v=${v%.}; v=${v%"$nl"}; printf 'lnk_source\0%s\0' "$v"; fi
fi
reg=0
[ "$islink" = 0 ] && [ -f "$p" ] && reg=1
if [ "$reg" = 1 ] && [ "$r" = 1 ] && [ -n "$3" ]; then
  if command -v "${3}sum" >/dev/null 2>&1; then v=$("${3}sum" < "$p")
  else v=$(openssl dgst -"$3" -r < "$p" 2>/dev/null); fi && printf 'checksum\0%s\0' "${v%% *}"
fi
if [ "$4" = 1 ] && command -v file >/dev/null 2>&1; then
  v=$(file $L -b --mime -- "$p" 2>/dev/null) && printf 'mime\0%s\0' "$v"
fi
if [ "$reg" = 1 ] && [ "$r" = 1 ] && [ -n "$5" ]; then
  printf 'content\0'
  if [ "$5" = all ]; then exec cat -- "$p"; else exec head -c "$5" -- "$p"; fi
fi
"#;

/// `$1` path. Output: the content; exit 100 when missing.
pub const READ_SCRIPT: &str = r#"LC_ALL=C; export LC_ALL
p=$1
if [ -d "$p" ]; then printf '%s: Is a directory\n' "$p" >&2; exit 21; fi
if ! [ -e "$p" ] && ! [ -L "$p" ]; then exit 100; fi
exec cat -- "$p"
"#;

/// `$1` dest, `$2` how the content comes (`stdin` or `remote`), `$3` the
/// remote source path, `$4` mode (empty: keep the replaced file's, or what
/// the directory gives a new file), `$5` owner, `$6` group, `$7` backup,
/// `$8` follow, `$9` unsafe_writes, `$10` the expected size of stdin,
/// `$11` a random suffix for the temp file's name; the rest: the
/// `validate` argv, `%s` replaced by the temp file. Stdin may come as the
/// variable `tutti_in` instead ([`crate::cmd::Cmd::stdin_as_variable`]).
///
/// A first run is mostly writes, so this one starts few processes: the
/// shell makes the temp file (`set -C` makes the redirection an exclusive
/// create, so no `mktemp`), the `printf` builtin writes content handed over
/// in `tutti_in`, and the owner is copied and reported without `stat` when
/// the file is ours.
pub const WRITE_SCRIPT: &str = r#"d=$1 how=$2 src=$3 mode=$4 owner=$5 group=$6 backup=$7 follow=$8 unsafe=$9 size=${10} rnd=${11}
shift 11
if [ "$follow" = 1 ] && [ -L "$d" ]; then
  if v=$(readlink -f -- "$d" && echo .); then v=${v%.}; d=${v%"$nl"}
  else fail 10 "cannot follow the symlink $d (its directory does not exist)"; fi
fi
dirof "$d"; dir=$D
if ! [ -e "$dir" ]; then fail 10 "Destination directory $dir does not exist"; fi
if ! [ -d "$dir" ]; then fail 11 "Destination $dir is not a directory"; fi
if [ -d "$d" ]; then
  if [ -L "$d" ]; then rm -f -- "$d" || fail 12 "cannot replace the symlink $d"
  else fail 12 "Destination $d is a directory"; fi
fi
# Not `:`: a redirection failing on a special builtin ends the shell.
set -C
{ printf '' > "$dir/.tutti.$rnd"; } 2>/dev/null && t="$dir/.tutti.$rnd"
set +C
if [ -z "$t" ]; then
  e=$( { printf '' > "$dir/.tutti.$rnd"; } 2>&1)
  fail 13 "The destination directory ($dir) is not writable by the current user. Error was: ${e:-cannot create $dir/.tutti.$rnd}"
fi
[ "$how" = stdin ] && [ -n "${tutti_in+set}" ] && how=variable
case $how in
  # The builtin writes; only a failure pays for `cat`, which says why
  # ("No space left on device") where dash's printf says "I/O error".
  variable) { printf '%s' "$tutti_in" > "$t"; } 2>/dev/null ||
    { e=$(printf '%s' "$tutti_in" 2>/dev/null | cat 2>&1 > "$t"); fail 14 "failed to copy to $d: ${e:-write error}"; };;
  remote) e=$(cat -- "$src" 2>&1 > "$t") || fail 14 "failed to copy to $d: $e";;
  stdin)
    e=$(cat 2>&1 > "$t") || fail 14 "failed to copy to $d: $e"
    if [ -n "$size" ]; then
      got=$(($(wc -c < "$t")))
      [ "$got" = "$size" ] || fail 14 "failed to copy to $d: the transfer was cut short ($got of $size bytes); $d is unchanged"
    fi;;
esac
sync -- "$t" >/dev/null 2>&1 || :
mine() { [ -O "$1" ] && [ -G "$1" ]; } 2>/dev/null
if [ -e "$d" ]; then
  # The replaced file's owner carries over, unless it is already ours.
  if [ -z "$owner$group" ] && ! { mine "$d" && mine "$t"; }; then
    a=$(stat -c '%u:%g' -- "$d") && chown -- "$a" "$t" >/dev/null 2>&1 || :
  fi
  # So do its mode and ACL, after the owner (a chown drops set-id bits); a
  # mode given applies on top. GNU cp copies both in one process.
  if ! cp --attributes-only --preserve=mode -- "$d" "$t" 2>/dev/null; then
    a=$(stat -c '%a' -- "$d") || fail 15 "cannot stat $d"
    chmod -- "$a" "$t" || fail 15 "cannot set the mode of $t"
    if command -v getfacl >/dev/null 2>&1 && acl=$(getfacl -s -p -- "$d" 2>/dev/null) && [ -n "$acl" ]; then
      printf '%s\n' "$acl" | setfacl --set-file=- -- "$t" >/dev/null 2>&1 || :
    fi
  fi
fi
if [ -n "$owner" ]; then e=$(chown -- "$owner" "$t" 2>&1) || fail 15 "chown failed: $e"; fi
if [ -n "$group" ]; then e=$(chgrp -- "$group" "$t" 2>&1) || fail 15 "chgrp failed: $e"; fi
if [ -n "$mode" ]; then e=$(chmod -- "$mode" "$t" 2>&1) || fail 15 "mode must be in octal or symbolic form: $e"; fi
if [ $# -gt 0 ]; then
  n=$#
  while [ "$n" -gt 0 ]; do
    a=$1 r=; shift
    while :; do
      case $a in
        *%s*) r=$r${a%%"%s"*}$t; a=${a#*"%s"};;
        *) r=$r$a; break;;
      esac
    done
    set -- "$@" "$r"; n=$((n - 1))
  done
  "$@" </dev/null
  rc=$?
  [ "$rc" = 0 ] || fail 16 "$rc"
fi
b=
if [ "$backup" = 1 ] && [ -f "$d" ]; then
  b="$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
  e=$(cp -p -- "$d" "$b" 2>&1) || fail 17 "Could not make backup of $d to $b: $e"
fi
if ! e=$(mv -f -- "$t" "$d" 2>&1); then
  if [ "$unsafe" = 1 ]; then
    e=$(cat -- "$t" 2>&1 > "$d") || fail 18 "Could not replace file: $t to $d: $e"
    rm -f -- "$t"
  else
    fail 18 "Could not replace file: $t to $d: $e"
  fi
fi
t=
sync -- "$dir" >/dev/null 2>&1 || :
# The shared shell (src/connection/ssh/shell.rs) knows who it runs as.
if command -v tutti_self >/dev/null 2>&1 && mine "$d" && tutti_self; then own=$TUTTI_SELF
else own=$(stat -c '%u %g %U %G' -- "$d" 2>/dev/null); fi
printf '\0TUTTI:ok\0%s\0%s\0%s\0' "$d" "$b" "$own"
"#;

/// `$1` path, `$2` mode, `$3` owner, `$4` group, `$5` follow, `$6`
/// recurse. Prints `changed` or `same`.
pub const ATTRS_SCRIPT: &str = r#"p=$1 mode=$2 owner=$3 group=$4 follow=$5 rec=$6
L= H= R=
[ "$follow" = 1 ] && L=-L
[ "$follow" = 1 ] || H=-h
[ "$rec" = 1 ] && R=-R
snap() { if [ "$rec" = 1 ]; then find $L "$p" ! -type l -exec stat $L -c '%a %u %g' {} + | cksum; else stat $L -c '%a %u %g' -- "$p"; fi; }
before=$(snap 2>&1) || fail 2 "$before"
if [ -n "$owner$group" ]; then
  e=$(chown $H $L $R -- "$owner${group:+:$group}" "$p" 2>&1) || fail 3 "chown failed: $e"
fi
if [ -n "$mode" ] && [ "$rec" = 1 ] && [ "$follow" = 1 ]; then
  # Recursing and following links: what the links lead to changes too
  # (chmod -R alone skips links; dangling ones are left alone).
  e=$(find -L "$p" ! -type l -exec chmod -- "$mode" {} + 2>&1) || fail 4 "chmod failed: $e"
elif [ -n "$mode" ] && { [ "$follow" = 1 ] || ! [ -L "$p" ]; }; then
  e=$(chmod $R -- "$mode" "$p" 2>&1) || fail 4 "chmod failed: $e"
fi
after=$(snap 2>&1) || fail 2 "$after"
if [ "$before" = "$after" ]; then echo same; else echo changed; fi
"#;

/// `$1` path, `$2` mode, `$3` owner, `$4` group: creates the missing
/// directories one by one and sets the attributes on each it created.
pub const MKDIR_SCRIPT: &str = r#"p=$1 mode=$2 owner=$3 group=$4
c=$p
set --
while ! [ -e "$c" ] && ! [ -L "$c" ]; do
  set -- "$c" "$@"
  case $c in */*) c=${c%/*}; [ -n "$c" ] || break;; *) break;; esac
done
[ -e "$c" ] && ! [ -d "$c" ] && fail 3 "Destination directory $c is not a directory"
# A plain octal mode is given to `mkdir -m`, which sets it exactly (even
# where a default ACL would override the umask), saving a `chmod`.
m=
case $mode in 0[0-7][0-7][0-7]) m=$mode;; esac
for c; do
  if [ -n "$m" ]; then e=$(mkdir -m "$m" -- "$c" 2>&1); else e=$(mkdir -- "$c" 2>&1); fi
  if [ $? != 0 ]; then
    # Another process (another host on the same machine) made it meanwhile.
    [ -d "$c" ] && continue
    fail 2 "There was an issue creating $c as requested: $e"
  fi
  if [ -n "$mode" ] && [ -z "$m" ]; then e=$(chmod -- "$mode" "$c" 2>&1) || fail 4 "chmod failed: $e"; fi
  if [ -n "$owner$group" ]; then e=$(chown -- "$owner${group:+:$group}" "$c" 2>&1) || fail 3 "chown failed: $e"; fi
done
echo "$#"
"#;

/// `$1` path: removes it (recursively). Prints `removed` or `absent`.
pub const REMOVE_SCRIPT: &str = r#"p=$1
if ! [ -e "$p" ] && ! [ -L "$p" ]; then echo absent; exit 0; fi
e=$(rm -rf -- "$p" 2>&1) || fail 2 "rmtree failed: $e"
echo removed
"#;

/// `$1` kind (`-s` or empty), `$2` src, `$3` dest, `$4` force: makes the
/// link under a temporary name and renames it over `dest`.
pub const LINK_SCRIPT: &str = r#"s=$1 src=$2 d=$3 force=$4
dirof "$d"; dir=$D
[ -e "$dir" ] || fail 10 "Destination directory $dir does not exist"
[ -d "$dir" ] || fail 11 "Destination $dir is not a directory"
if [ -d "$d" ] && ! [ -L "$d" ]; then
  [ "$force" = 1 ] || fail 12 "refusing to convert from directory to link for $d"
  rmdir -- "$d" 2>/dev/null || fail 12 "the directory $d is not empty, refusing to convert it"
fi
[ -L "$d" ] && [ -d "$d" ] && { rm -f -- "$d" || fail 12 "cannot replace $d"; }
t="$dir/.tutti.$$.link"
# Left by a run that was cut short (the name repeats within a shell).
if [ -e "$t" ] || [ -L "$t" ]; then rm -f -- "$t"; fi
e=$(ln $s -- "$src" "$t" 2>&1) || fail 13 "Error while linking: $e"
e=$(mv -f -- "$t" "$d" 2>&1) || fail 14 "Error while replacing: $e"
t=
echo ok
"#;

/// `$1` path, `$2` mtime (`now`, `preserve`, or `[[CC]YY]MMDDhhmm[.ss]`),
/// `$3` atime, `$4` follow, `$5` create.
pub const TOUCH_SCRIPT: &str = r#"p=$1 m=$2 a=$3 follow=$4 create=$5
H=
[ "$follow" = 1 ] || H=-h
if ! [ -e "$p" ] && ! [ -L "$p" ]; then
  [ "$create" = 1 ] || fail 2 "file ($p) is absent, cannot continue"
  dirof "$p"; [ -d "$D" ] || fail 10 "Destination directory $D does not exist"
  e=$( (: > "$p") 2>&1) || fail 3 "Error, could not touch target: $e"
fi
if [ "$m" = "$a" ] && [ "$m" != preserve ]; then
  if [ "$m" = now ]; then e=$(touch $H -c -- "$p" 2>&1); else e=$(touch $H -c -t "$m" -- "$p" 2>&1); fi || fail 4 "Error while touching $p: $e"
else
  for x in "m:$m" "a:$a"; do
    f=${x%%:*} v=${x#*:}
    case $v in
      preserve) ;;
      now) e=$(touch $H -c -"$f" -- "$p" 2>&1) || fail 4 "Error while touching $p: $e";;
      *) e=$(touch $H -c -"$f" -t "$v" -- "$p" 2>&1) || fail 4 "Error while touching $p: $e";;
    esac
  done
fi
echo ok
"#;
