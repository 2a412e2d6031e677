#!/usr/bin/env bash
# Extending wrap-up adds a fixed increment each time, a limited number of times (one more is
# refused with exit 3, nothing changed); finishing wrap-up early closes the chat (wrapup-finished).
# Each `chatemu expect` exits 1, saying what differs, when chatemu does not behave as told.
set -euo pipefail
dir=$(mktemp -d) && trap 'rm -rf "$dir"' EXIT
export CHATEMU_DB="$dir/chatemu.db"   # a fresh database of its own, removed at the end
unset CHATEMU_AGENT                   # act as agent-1

echo "# The story starts at a fixed instant.  The sales queue has a 60 s wrap-up, extended 30 s at a time, twice at most."
chatemu clock set 2026-01-05T09:00:00Z
chatemu config set wrapup 60s --queue sales
chatemu config set wrapup-extension 30s --queue sales
chatemu config set wrapup-extensions 2 --queue sales
chatemu config show

echo "# Ann's sales chat is handled for 3 minutes, then the agent ends the conversation."
chatemu chat new --customer Ann --queue sales --inbox
chatemu chat activate C1
chatemu clock advance 3m
chatemu chat wrapup C1
chatemu expect chat C1 state=active-wrapup queue=sales wrapup_remaining=60s extensions_left=2 \
  wrapup_ends_at=2026-01-05T09:04:00Z

echo "# 15 s later (45 s left) the agent extends: exactly 30 s more, one extension left."
chatemu clock advance 15s
chatemu chat wrapup C1 --extend
chatemu expect chat C1 state=active-wrapup wrapup_remaining=75s extensions_left=1 wrapup_ends_at=2026-01-05T09:04:30Z

echo "# The agent extends again at once: another 30 s, none left."
chatemu chat wrapup C1 --extend
chatemu expect chat C1 state=active-wrapup wrapup_remaining=105s extensions_left=0 wrapup_ends_at=2026-01-05T09:05:00Z

echo "# A third extension is refused (exit 3), and nothing changes."
chatemu run - <<< '!3~"no extensions left" chat wrapup C1 --extend'
chatemu expect chat C1 state=active-wrapup wrapup_remaining=105s extensions_left=0 wrapup_ends_at=2026-01-05T09:05:00Z

echo "# A minute later (45 s left) the agent finishes wrap-up early: the chat closes now."
chatemu clock advance 1m
chatemu expect chat C1 wrapup_remaining=45s
chatemu chat wrapup C1 --finish
chatemu expect chat C1 state=closed closed_reason=wrapup-finished closed_at=2026-01-05T09:04:15Z \
  wrapup_remaining=null wrapup_seconds=75s active_seconds=3m
chatemu expect agent status=available active_chat=null

echo "# The old deadline passes: nothing happens to a closed chat."
chatemu clock advance 2m
chatemu expect chat C1 state=closed closed_reason=wrapup-finished closed_at=2026-01-05T09:04:15Z

echo "# Closed is final: extending or finishing it again is refused (exit 3)."
chatemu run - <<< '!3 chat wrapup C1 --extend'
chatemu run - <<< '!3 chat wrapup C1 --finish'
chatemu expect chat C1 state=closed closed_reason=wrapup-finished

echo "# Only wrap-up that is running can be extended or finished: Bob's chat, parked in wrap-up, cannot."
chatemu chat new --customer Bob --queue sales --inbox
chatemu chat end C2
chatemu expect chat C2 state=parked-wrapup wrapup_remaining=60s extensions_left=2
chatemu run - <<< '!3 chat wrapup C2 --extend'
chatemu run - <<< '!3 chat wrapup C2 --finish'
chatemu expect chat C2 state=parked-wrapup wrapup_remaining=60s extensions_left=2

echo "# A chat outside the sales queue uses the defaults (60 s, 3 extensions of 60 s)."
chatemu chat new --customer Cid --inbox
chatemu chat activate C3
chatemu chat wrapup C3
chatemu chat wrapup C3 --extend
chatemu expect chat C3 state=active-wrapup queue=default wrapup_remaining=2m extensions_left=2
chatemu events

echo "# All checks held."
