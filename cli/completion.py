"""``chatemu completion bash|zsh|fish``: a shell completion script, printed.

The script completes commands, options and their values from ``TREE``, a static
copy of the command tree kept in this file (so printing the script builds no
parser, and pressing Tab starts no Python), and chat ids by running
``chatemu chat list --all --ids`` (on the ``--db`` the command line names, if any).

``TREE`` is generated from the live command tree by the cog block below; after
adding or changing a command, refresh it with::

    .venv/bin/python -m cogapp -r cli/completion.py

(tests/test_conventions_more.py fails while it is stale).  One function,
``_chatemu_candidates``, in POSIX shell, does the work for every shell: bash
and zsh run it in the shell itself, fish through ``sh``.
"""

from typing import Annotated

import typer

SHELLS = ("bash", "zsh", "fish")

#: Each command path ("" for the root, "chat new", "agent queues set") → (subcommands,
#: options, options taking a value, those whose value is a file, those whose value is a chat
#: id, options with a fixed set of values → the values, what each positional argument is:
#: "chat" (a chat id), "file", "choice:A|B|C", "expect-subject" or "-" (anything)).
# [[[cog
# from chatemu.cli.completion import live_tree, as_source
# cog.out(as_source(live_tree()))
# ]]]
TREE = {
    '': (['chat', 'agent', 'queue', 'break-reason', 'clock', 'config', 'template', 'classification', 'contact', 'stats', 'events', 'refusals', 'expect', 'explain', 'timeline', 'console', 'watch', 'run', 'drill', 'snapshot', 'export', 'import', 'reset', 'db', 'completion'], ['--db', '--agent', '--version', '--help', '-h'], ['--db', '--agent'], ['--db'], [], {}, []),
    'chat': (['new', 'take', 'activate', 'park', 'end', 'wrapup', 'send', 'receive', 'transcript', 'return', 'transfer', 'classify', 'flag-abusive', 'contact', 'call-start', 'call-end', 'list', 'show'], ['--help', '-h'], [], [], [], {}, []),
    'chat new': ([], ['--customer', '--queue', '--priority', '--id', '--inbox', '--json', '--help', '-h'], ['--customer', '--queue', '--priority', '--id'], [], [], {}, []),
    'chat take': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat activate': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat park': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat end': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat wrapup': ([], ['--extend', '--finish', '--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat send': ([], ['--template', '--json', '--help', '-h'], ['--template'], [], [], {}, ['chat', '-']),
    'chat receive': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat', '-']),
    'chat transcript': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat return': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat transfer': ([], ['--queue', '--agent', '--json', '--help', '-h'], ['--queue', '--agent'], [], [], {}, ['chat']),
    'chat classify': ([], ['--note', '--json', '--help', '-h'], ['--note'], [], [], {}, ['chat', '-']),
    'chat flag-abusive': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'chat contact': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat', '-']),
    'chat call-start': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'chat call-end': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'chat list': ([], ['--all', '--state', '--queue', '--ids', '--json', '--help', '-h'], ['--state', '--queue'], [], [], {'--state': ['queued', 'new', 'active', 'parked', 'active-wrapup', 'parked-wrapup', 'closed']}, []),
    'chat show': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'agent': (['status', 'list', 'available', 'break', 'login', 'logout', 'queues'], ['--help', '-h'], [], [], [], {}, []),
    'agent status': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'agent list': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'agent available': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'agent break': ([], ['--reason', '--json', '--help', '-h'], ['--reason'], [], [], {}, []),
    'agent login': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'agent logout': ([], ['--return', '--json', '--help', '-h'], [], [], [], {}, []),
    'agent queues': (['set', 'clear', 'on', 'off'], ['--json', '--help', '-h'], [], [], [], {}, []),
    'agent queues set': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'agent queues clear': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'agent queues on': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'agent queues off': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'queue': (['add', 'list', 'show'], ['--help', '-h'], [], [], [], {}, []),
    'queue add': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'queue list': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'queue show': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'break-reason': (['list', 'add', 'remove'], ['--help', '-h'], [], [], [], {}, []),
    'break-reason list': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'break-reason add': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'break-reason remove': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'clock': (['advance', 'set', 'real', 'virtual'], ['--json', '--help', '-h'], [], [], [], {}, []),
    'clock advance': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'clock set': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'clock real': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'clock virtual': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'config': (['show', 'set'], ['--help', '-h'], [], [], [], {}, []),
    'config show': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'config set': ([], ['--queue', '--agent', '--json', '--help', '-h'], ['--queue', '--agent'], [], [], {}, ['choice:wrapup|wrapup-extension|wrapup-extensions|max-chats|auto-present|classification|classification-required|routing|service-level|break-reasons', '-']),
    'template': (['add', 'list', 'remove'], ['--help', '-h'], [], [], [], {}, []),
    'template add': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], [], {}, ['-', '-']),
    'template list': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], [], {}, []),
    'template remove': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], [], {}, ['-']),
    'classification': (['add', 'list', 'remove'], ['--help', '-h'], [], [], [], {}, []),
    'classification add': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], [], {}, ['-']),
    'classification list': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], [], {}, []),
    'classification remove': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], [], {}, ['-']),
    'contact': (['history'], ['--help', '-h'], [], [], [], {}, []),
    'contact history': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'stats': (['agents', 'queues'], ['--help', '-h'], [], [], [], {}, []),
    'stats agents': ([], ['--since', '--until', '--json', '--help', '-h'], ['--since', '--until'], [], [], {}, []),
    'stats queues': ([], ['--since', '--until', '--json', '--help', '-h'], ['--since', '--until'], [], [], {}, []),
    'events': ([], ['--chat', '--agent', '--since', '--follow', '-f', '--json', '--jsonl', '--help', '-h'], ['--chat', '--agent', '--since'], [], ['--chat'], {}, []),
    'refusals': ([], ['--agent', '--since', '--json', '--help', '-h'], ['--agent', '--since'], [], [], {}, []),
    'expect': ([], ['--json', '--help', '-h'], [], [], [], {}, ['choice:chat|agent|clock|inbox|queue|events-since', 'expect-subject']),
    'explain': ([], ['--json', '--help', '-h'], [], [], [], {}, ['chat']),
    'timeline': ([], ['--chat', '--agent', '--from', '--to', '--limit', '--output', '-o', '--force', '--help', '-h'], ['--chat', '--agent', '--from', '--to', '--limit', '--output', '-o'], ['--output', '-o'], ['--chat'], {}, []),
    'console': ([], ['--agent', '--help', '-h'], ['--agent'], [], [], {}, []),
    'watch': ([], ['--agent', '--help', '-h'], ['--agent'], [], [], {}, []),
    'run': ([], ['--keep-going', '--quiet', '-q', '--json', '--fresh', '--keep', '--help', '-h'], ['--keep'], ['--keep'], [], {}, ['file']),
    'drill': ([], ['--timeout', '--json', '--help', '-h'], ['--timeout'], [], [], {}, ['file']),
    'snapshot': (['save', 'restore', 'list', 'delete'], ['--help', '-h'], [], [], [], {}, []),
    'snapshot save': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'snapshot restore': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'snapshot list': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'snapshot delete': ([], ['--json', '--help', '-h'], [], [], [], {}, ['-']),
    'export': ([], ['--force', '--pretty', '--help', '-h'], [], [], [], {}, ['file']),
    'import': ([], ['--replace', '--replace-snapshots', '--json', '--help', '-h'], [], [], [], {}, ['file']),
    'reset': ([], ['--yes', '-y', '--keep-snapshots', '--json', '--help', '-h'], [], [], [], {}, []),
    'db': (['check', 'path'], ['--help', '-h'], [], [], [], {}, []),
    'db check': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'db path': ([], ['--json', '--help', '-h'], [], [], [], {}, []),
    'completion': ([], ['--help', '-h'], [], [], [], {}, ['choice:bash|zsh|fish']),
}
# [[[end]]]


def live_tree() -> dict:
    """``TREE`` as the live command line has it (every command module imported: slow, for cog
    and tests only)."""
    from chatemu.store.config import KEYS

    from .app import ORDER, root_command

    tree: dict = {}

    def visit(command, path: str) -> None:
        subcommands = [] if not hasattr(command, "commands") else [
            name for name in (ORDER if path == "" else command.commands)
            if name in command.commands and not command.commands[name].hidden]
        options, valued, files, chats, choices, positional = [], [], [], [], {}, []
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            metavar = param.metavar or ""
            if param.param_type_name == "option":
                names = [*param.opts, *param.secondary_opts]
                options += names
                if param.is_flag or param.count:
                    continue
                valued += names
                if "FILE" in metavar or "PATH" in metavar:
                    files += names
                if param.name in ("chat", "chats"):
                    chats += names
                if param.name == "state":
                    from chatemu.store.core import STATES

                    choices.update({name: list(STATES) for name in names})
                elif hasattr(param.type, "choices"):
                    choices.update({name: list(param.type.choices) for name in names})
            elif param.name == "chat_id":
                positional.append("chat")
            elif "FILE" in metavar:
                positional.append("file")
            elif path == "config set" and param.name == "key":
                positional.append("choice:" + "|".join(KEYS))
            elif path == "expect" and param.name == "checks":
                positional.append("expect-subject")
            elif "|" in metavar:
                positional.append("choice:" + metavar.strip("[]"))
            else:
                positional.append("-")
        options += ["--help", "-h"]
        tree[path] = (subcommands, options, valued, files, chats, choices, positional)
        for name in subcommands:
            visit(command.commands[name], f"{path} {name}".strip())

    visit(root_command(), "")
    return tree


def as_source(tree: dict) -> str:
    """``tree`` as the Python source of ``TREE``, one command per line."""
    lines = ["TREE = {\n"]
    for path, entry in tree.items():
        lines.append(f"    {path!r}: {entry!r},\n")
    lines.append("}\n")
    return "".join(lines)


# -- the scripts --------------------------------------------------------------------------


def _words(items) -> str:
    return " ".join(items)


def candidates_function() -> str:
    """``_chatemu_candidates WORD... CURRENT``: what may stand where CURRENT is being typed
    after ``chatemu WORD...``, one per line (``__files__``: a file name).  POSIX shell."""
    cases = []
    for path, (subcommands, options, valued, files, chats, choices, positional) in TREE.items():
        values = " ".join(f"{option}={'|'.join(found)}" for option, found in choices.items())
        cases.append(
            f"    '{path}') _c='{_words(subcommands)}'; _o='{_words(options)}'; _v='{_words(valued)}';"
            f" _f='{_words(files)}'; _h='{_words(chats)}'; _k='{values}'; _a='{_words(positional)}';;\n")
    return _CANDIDATES.replace("@CASES@", "".join(cases))


_CANDIDATES = r"""_chatemu_node() {
  _c=''; _o=''; _v=''; _f=''; _h=''; _k=''; _a=''
  case $1 in
@CASES@  esac
}

_chatemu_has() {
  case " $2 " in *" $1 "*) return 0;; esac
  return 1
}

_chatemu_ids() {
  case $1 in "~/"*) set -- "$HOME/${1#"~/"}";; esac
  if [ -n "$1" ]; then
    chatemu --db "$1" chat list --all --ids 2>/dev/null
  else
    chatemu chat list --all --ids 2>/dev/null
  fi
}

_chatemu_candidates() {
  local IFS _c _o _v _f _h _k _a _path _db _pending _npos _first _w _pair
  IFS=' '
  _path=''; _db=''; _pending=''; _npos=0; _first=''
  _chatemu_node ''
  while [ $# -gt 1 ]; do
    _w=$1
    shift
    if [ -n "$_pending" ]; then
      [ "$_w" = = ] && continue  # bash splits --db=FILE into --db, =, FILE
      [ "$_pending" = --db ] && _db=$_w
      _pending=''
      continue
    fi
    case $_w in
      --db=*) _db=${_w#--db=}; continue;;
      --db) _pending=--db; continue;;
      -*=*) continue;;
      -*) _chatemu_has "$_w" "$_v" && _pending=$_w; continue;;
    esac
    if [ $_npos -eq 0 ] && [ -n "$_c" ] && _chatemu_has "$_w" "$_c"; then
      _path=${_path:+$_path }$_w
      _chatemu_node "$_path"
      continue
    fi
    _npos=$((_npos + 1))
    [ $_npos -eq 1 ] && _first=$_w
  done
  if [ -n "$_pending" ]; then
    if [ "$_pending" = --db ] || _chatemu_has "$_pending" "$_f"; then
      echo __files__
    elif _chatemu_has "$_pending" "$_h"; then
      _chatemu_ids "$_db"
    else
      for _pair in $_k; do
        [ "${_pair%%=*}" = "$_pending" ] && echo "${_pair#*=}" | tr '|' '\n'
      done
    fi
    return 0
  fi
  case $1 in
    -*) for _w in $_o; do echo "$_w"; done; return 0;;
  esac
  if [ -n "$_c" ] && [ $_npos -eq 0 ]; then
    for _w in $_c; do echo "$_w"; done
    return 0
  fi
  set -- $_a
  [ $_npos -lt $# ] || return 0
  shift $_npos
  case $1 in
    chat) _chatemu_ids "$_db";;
    file) echo __files__;;
    expect-subject) [ "$_first" = chat ] && [ $_npos -eq 1 ] && _chatemu_ids "$_db";;
    choice:*) echo "${1#choice:}" | tr '|' '\n';;
  esac
  return 0
}
"""

_BASH = r"""# chatemu completion for bash: eval "$(chatemu completion bash)" in ~/.bashrc
@CANDIDATES@
_chatemu() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  local -a found
  found=($(_chatemu_candidates "${COMP_WORDS[@]:1:COMP_CWORD}"))
  if [ "${found[0]}" = __files__ ]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "${found[*]}" -- "$cur"))
  fi
}
complete -F _chatemu chatemu
"""

_ZSH = r"""#compdef chatemu
# chatemu completion for zsh: eval "$(chatemu completion zsh)" in ~/.zshrc, after compinit
@CANDIDATES@
_chatemu_sh() {
  emulate -L sh
  _chatemu_candidates "$@"
}

_chatemu() {
  local -a found
  found=("${(@f)$(_chatemu_sh "${(@)words[2,CURRENT]}")}")
  found=(${found:#})
  if [[ ${found[1]} == __files__ ]]; then
    _files
  else
    compadd -- "${found[@]}"
  fi
}

if (( $+functions[compdef] )); then
  compdef _chatemu chatemu
fi
"""

_FISH = r"""# chatemu completion for fish: chatemu completion fish > ~/.config/fish/completions/chatemu.fish
function __chatemu_complete
    set -l words (commandline -opc) (commandline -ct)
    set -e words[1]
    set -l found (sh -c '@CANDIDATES@
_chatemu_candidates "$@"' chatemu $words)
    if test "$found[1]" = __files__
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\n' $found
end
complete -c chatemu -f -a '(__chatemu_complete)'
"""


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    body = candidates_function()
    if shell == "fish":
        return _FISH.replace("@CANDIDATES@", body.replace("\\", "\\\\").replace("'", "\\'"))
    return {"bash": _BASH, "zsh": _ZSH}[shell].replace("@CANDIDATES@", body)


def completion(
    shell: Annotated[str, typer.Argument(metavar="bash|zsh|fish", help="The shell.", show_default=False)],
) -> None:
    """Print a shell completion script: commands, options and chat ids complete on Tab.

    Chat ids come from `chatemu chat list --all --ids`, on the database the command
    line names with --db (or CHATEMU_DB, or the default).

    \b
    Examples:
      eval "$(chatemu completion bash)"
      eval "$(chatemu completion zsh)"
      chatemu completion fish > ~/.config/fish/completions/chatemu.fish
    """
    from chatemu.store.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r} (shells: {', '.join(SHELLS)})")
    print(script(shell), end="")
