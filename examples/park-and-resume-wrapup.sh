#!/usr/bin/env bash
# Parking a chat in wrap-up pauses its timer; activating it again resumes the timer from
# where it stopped; when the time runs out the chat closes (wrapup-expired) at that exact instant.
# Each `chatemu expect` exits 1, saying what differs, when chatemu does not behave as told.
set -euo pipefail
dir=$(mktemp -d) && trap 'rm -rf "$dir"' EXIT
export CHATEMU_DB="$dir/chatemu.db"   # a fresh database of its own, removed at the end
unset CHATEMU_AGENT                   # act as agent-1

echo "# The story starts at a fixed instant on the virtual clock, with a 60 s wrap-up."
chatemu clock set 2026-01-05T09:00:00Z
chatemu expect clock now=2026-01-05T09:00:00Z
chatemu config set wrapup 60s

echo "# Ann's chat lands in the inbox; the agent activates it and talks for 2 minutes."
chatemu chat new --customer Ann --inbox
chatemu chat activate C1
chatemu expect chat C1 state=active
chatemu expect agent status=handling-chat active_chat=C1
chatemu clock advance 2m

echo "# The agent ends the conversation: wrap-up starts with the full 60 s."
chatemu chat wrapup C1
chatemu expect chat C1 state=active-wrapup wrapup_remaining=60s wrapup_ends_at=2026-01-05T09:03:00Z
chatemu expect agent status=wrap-up

echo "# 20 s later the agent parks it: the timer pauses with 40 s left."
chatemu clock advance 20s
chatemu chat park C1
chatemu expect chat C1 state=parked-wrapup wrapup_remaining=40s wrapup_ends_at=null
chatemu expect agent status=available active_chat=null

echo "# 10 minutes pass while it is parked: paused time never counts."
chatemu clock advance 10m
chatemu chat list
chatemu expect chat C1 state=parked-wrapup wrapup_remaining=40s closed_reason=null

echo "# The agent activates it again: the timer goes on from 40 s (ending at 09:13:00)."
chatemu chat activate C1
chatemu expect chat C1 state=active-wrapup wrapup_remaining=40s wrapup_ends_at=2026-01-05T09:13:00Z

echo "# 10 s later Bob's chat arrives and the agent activates it: Ann's wrap-up is parked for it, 30 s left."
chatemu clock advance 10s
chatemu chat new --customer Bob --inbox
chatemu chat activate C2
chatemu expect inbox C1:parked-wrapup C2:active
chatemu expect chat C1 wrapup_remaining=30s

echo "# 2m30s later the agent switches back to Ann: Bob is parked, Ann's timer resumes at 30 s."
chatemu clock advance 2m30s
chatemu chat activate C1
chatemu expect inbox C1:active-wrapup C2:parked
chatemu expect chat C1 wrapup_remaining=30s wrapup_ends_at=2026-01-05T09:15:30Z

echo "# 29 s later one second is left."
chatemu clock advance 29s
chatemu expect chat C1 state=active-wrapup wrapup_remaining=1s

echo "# The clock jumps a whole minute past the deadline: the chat closes at the exact instant it ran out."
chatemu clock advance 1m
chatemu expect clock now=2026-01-05T09:16:29Z
chatemu expect chat C1 state=closed closed_reason=wrapup-expired closed_at=2026-01-05T09:15:30Z \
  wrapup_remaining=null active_seconds=2m parked_seconds=12m30s wrapup_seconds=1m
chatemu events --chat C1

echo "# Closed is final: activating it again is refused (exit 3) and changes nothing."
chatemu run - <<< '!3 chat activate C1'
chatemu expect chat C1 state=closed closed_at=2026-01-05T09:15:30Z

echo "# All checks held."
