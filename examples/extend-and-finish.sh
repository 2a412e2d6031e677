#!/usr/bin/env bash
# Extending wrap-up adds a fixed increment each time, a limited number of times (one more is
# refused with exit 3, nothing changed); finishing wrap-up early closes the chat (wrapup-finished).
set -euo pipefail
command -v chatemu >/dev/null 2>&1 || { echo "error: chatemu is not on PATH" >&2; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
begin "extend and finish wrap-up"

say "The story starts at a fixed instant.  The sales queue has a 60 s wrap-up, extended 30 s at a time, twice at most."
run clock set 2026-01-05T09:00:00Z
run config set wrapup 60s --queue sales
run config set wrapup-extension 30s --queue sales
run config set wrapup-extensions 2 --queue sales
run config show

say "Ann's sales chat is handled for 3 minutes, then the agent ends the conversation."
run chat new --customer Ann --queue sales --inbox
run chat activate C1
run clock advance 3m
run chat wrapup C1
expect_chat C1 state=active-wrapup queue=sales wrapup_remaining=60 extensions_left=2 \
  wrapup_ends_at=2026-01-05T09:04:00.000Z

say "15 s later (45 s left) the agent extends: exactly 30 s more, one extension left."
run clock advance 15s
run chat wrapup C1 --extend
expect_chat C1 state=active-wrapup wrapup_remaining=75 extensions_left=1 wrapup_ends_at=2026-01-05T09:04:30.000Z

say "The agent extends again at once: another 30 s, none left."
run chat wrapup C1 --extend
expect_chat C1 state=active-wrapup wrapup_remaining=105 extensions_left=0 wrapup_ends_at=2026-01-05T09:05:00.000Z

say "A third extension is refused, and nothing changes."
refused 3 chat wrapup C1 --extend
expect_chat C1 state=active-wrapup wrapup_remaining=105 extensions_left=0 wrapup_ends_at=2026-01-05T09:05:00.000Z

say "A minute later (45 s left) the agent finishes wrap-up early: the chat closes now."
run clock advance 1m
expect_chat C1 wrapup_remaining=45
run chat wrapup C1 --finish
expect_chat C1 state=closed closed_reason=wrapup-finished closed_at=2026-01-05T09:04:15.000Z \
  wrapup_remaining=null wrapup_seconds=75 active_seconds=180
expect_agent status=available active_chat=null

say "The old deadline passes: nothing happens to a closed chat."
run clock advance 2m
expect_chat C1 state=closed closed_reason=wrapup-finished closed_at=2026-01-05T09:04:15.000Z

say "Closed is final: extending or finishing it again is refused."
refused 3 chat wrapup C1 --extend
refused 3 chat wrapup C1 --finish
expect_chat C1 state=closed closed_reason=wrapup-finished

say "Only wrap-up that is running can be extended or finished: Bob's chat, parked in wrap-up, cannot."
run chat new --customer Bob --queue sales --inbox
run chat end C2
expect_chat C2 state=parked-wrapup wrapup_remaining=60 extensions_left=2
refused 3 chat wrapup C2 --extend
refused 3 chat wrapup C2 --finish
expect_chat C2 state=parked-wrapup wrapup_remaining=60 extensions_left=2

say "A chat outside the sales queue uses the defaults (60 s, 3 extensions of 60 s)."
run chat new --customer Cid --inbox
run chat activate C3
run chat wrapup C3
run chat wrapup C3 --extend
expect_chat C3 state=active-wrapup queue=default wrapup_remaining=120 extensions_left=2
run events

done_ok
