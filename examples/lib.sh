# examples/lib.sh: shared helpers for the chatemu example scripts.  Source it; do not run it.
#
#   begin TITLE                 check the tools, make a temp database (removed on exit), use agent-1
#   say TEXT...                 narrate a step in plain words
#   run ARGS...                 show and run `chatemu ARGS` (human output); fail unless it exits 0
#   refused CODE ARGS...        show and run `chatemu ARGS`; fail unless it exits CODE with one `error: …` line
#   json ARGS...                print `chatemu ARGS --json` (stdout only); fail unless it exits 0
#   jget JSON EXPR              print Python EXPR over the parsed JSON `d` (strings bare, else as JSON)
#   field CHAT FIELD            print one field of `chatemu chat show CHAT --json`
#   expect_eq LABEL ACTUAL EXPECTED
#   expect_chat CHAT KEY=VALUE...   check fields of the chat (null, true, 40, or a bare string)
#   expect_agent KEY=VALUE...       check fields of `chatemu agent status --json`
#   expect_inbox ID...              check the ids in the agent's inbox (`chat list --json`), in order
#   expect_clock ISO-TIME           check the clock's `now`
#   done_ok                     say the example passed
#
# Every check prints what it verified; any deviation prints `FAIL: …` on stderr and exits 1.

fail() {
  printf '\nFAIL: %s\n' "$*" >&2
  exit 1
}

begin() {
  command -v chatemu >/dev/null 2>&1 || {
    echo "error: chatemu is not on PATH (install it, e.g. pip install -e ., or activate its venv)" >&2
    exit 1
  }
  command -v python3 >/dev/null 2>&1 || {
    echo "error: python3 is not on PATH (the examples read chatemu's JSON with it)" >&2
    exit 1
  }
  EXAMPLE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/chatemu-example.XXXXXX")
  trap 'rm -rf "$EXAMPLE_TMP"' EXIT
  export CHATEMU_DB="$EXAMPLE_TMP/chatemu.db"
  unset CHATEMU_AGENT  # act as the default agent, agent-1
  export NO_COLOR=1
  printf '== %s ==\n' "$1"
  printf '(a fresh database: %s)\n' "$CHATEMU_DB"
}

say() {
  printf '\n%s\n' "$*"
}

_indent() {
  [[ -z $1 ]] || printf '%s\n' "$1" | sed 's/^/      /'
}

run() {
  printf '  $ chatemu %s\n' "$*"
  local out rc=0
  out=$(chatemu "$@" 2>&1) || rc=$?
  _indent "$out"
  ((rc == 0)) || fail "'chatemu $*' exited $rc, expected 0"
}

refused() {
  local want=$1 out err rc=0
  shift
  printf '  $ chatemu %s    # expected: refused, exit %s\n' "$*" "$want"
  err=$(chatemu "$@" 2>&1 >/dev/null) || rc=$?
  _indent "$err"
  ((rc == want)) || fail "'chatemu $*' exited $rc, expected $want"
  [[ $err == "error: "* && $err != *$'\n'* ]] ||
    fail "'chatemu $*' should print one 'error: …' line on stderr, printed: $err"
  printf '    ok: refused with exit %s\n' "$rc"
}

json() {
  local out rc=0
  out=$(chatemu "$@" --json 2>"$EXAMPLE_TMP/stderr") || rc=$?
  ((rc == 0)) || fail "'chatemu $* --json' exited $rc: $(cat "$EXAMPLE_TMP/stderr")"
  printf '%s\n' "$out"
}

jget() {
  python3 -c '
import json, sys
text, expr = sys.argv[1], sys.argv[2]
try:
    d = json.loads(text)
except ValueError as exc:
    sys.exit(f"FAIL: chatemu printed something that is not JSON ({exc}): {text[:200]!r}")
try:
    value = eval(expr, {"d": d})
except Exception as exc:
    sys.exit(f"FAIL: cannot read {expr} from chatemu JSON ({type(exc).__name__}: {exc}): {text[:300]}")
print(value if isinstance(value, str) else json.dumps(value))
' "$1" "$2"
}

field() {
  local doc
  doc=$(json chat show "$1") || exit 1
  jget "$doc" "d['$2']"
}

expect_eq() {
  if [[ $2 == "$3" ]]; then
    printf '    ok: %s = %s\n' "$1" "$3"
  else
    fail "$1: expected $3, got $2"
  fi
}

# _expect_fields LABEL JSON KEY=VALUE...
_expect_fields() {
  local label=$1 doc=$2 pair key actual
  shift 2
  for pair in "$@"; do
    key=${pair%%=*}
    actual=$(jget "$doc" "d['$key']") || exit 1
    expect_eq "$label $key" "$actual" "${pair#*=}"
  done
}

expect_chat() {
  local chat=$1 doc
  shift
  doc=$(json chat show "$chat") || exit 1
  _expect_fields "$chat" "$doc" "$@"
}

expect_agent() {
  local doc
  doc=$(json agent status) || exit 1
  _expect_fields "agent-1" "$doc" "$@"
}

expect_inbox() {
  local doc ids
  doc=$(json chat list) || exit 1
  ids=$(jget "$doc" '" ".join(c["id"] for c in d)') || exit 1
  expect_eq "agent-1 inbox" "$ids" "$*"
}

expect_clock() {
  local doc now
  doc=$(json clock) || exit 1
  now=$(jget "$doc" "d['now']") || exit 1
  expect_eq "clock now" "$now" "$1"
}

done_ok() {
  printf '\nOK: %s behaved as documented.\n' "$(basename "$0" .sh)"
}
