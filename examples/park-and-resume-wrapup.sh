#!/usr/bin/env bash
# Parking a chat in wrap-up pauses its timer; activating it again resumes the timer from
# where it stopped; when the time runs out the chat closes (wrapup-expired) at that exact instant.
set -euo pipefail
command -v chatemu >/dev/null 2>&1 || { echo "error: chatemu is not on PATH" >&2; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
begin "park and resume in wrap-up"

say "The story starts at a fixed instant on the virtual clock, with a 60 s wrap-up."
run clock set 2026-01-05T09:00:00Z
expect_clock 2026-01-05T09:00:00.000Z
run config set wrapup 60s

say "Ann's chat lands in the inbox; the agent activates it and talks for 2 minutes."
run chat new --customer Ann --inbox
run chat activate C1
expect_chat C1 state=active
expect_agent status=handling-chat active_chat=C1
run clock advance 2m

say "The agent ends the conversation: wrap-up starts with the full 60 s."
run chat wrapup C1
expect_chat C1 state=active-wrapup wrapup_remaining=60 wrapup_ends_at=2026-01-05T09:03:00.000Z
expect_agent status=wrap-up

say "20 s later the agent parks it: the timer pauses with 40 s left."
run clock advance 20s
run chat park C1
expect_chat C1 state=parked-wrapup wrapup_remaining=40 wrapup_ends_at=null
expect_agent status=available active_chat=null

say "10 minutes pass while it is parked: paused time never counts."
run clock advance 10m
run chat list
expect_chat C1 state=parked-wrapup wrapup_remaining=40 closed_reason=null

say "The agent activates it again: the timer goes on from 40 s (ending at 09:13:00)."
run chat activate C1
expect_chat C1 state=active-wrapup wrapup_remaining=40 wrapup_ends_at=2026-01-05T09:13:00.000Z

say "10 s later Bob's chat arrives and the agent activates it: Ann's wrap-up is parked for it, 30 s left."
run clock advance 10s
run chat new --customer Bob --inbox
run chat activate C2
expect_chat C2 state=active
expect_chat C1 state=parked-wrapup wrapup_remaining=30

say "2m30s later the agent switches back to Ann: Bob is parked, Ann's timer resumes at 30 s."
run clock advance 2m30s
run chat activate C1
expect_chat C2 state=parked
expect_chat C1 state=active-wrapup wrapup_remaining=30 wrapup_ends_at=2026-01-05T09:15:30.000Z

say "29 s later one second is left."
run clock advance 29s
expect_chat C1 state=active-wrapup wrapup_remaining=1

say "The clock jumps a whole minute past the deadline: the chat closes at the exact instant it ran out."
run clock advance 1m
expect_clock 2026-01-05T09:16:29.000Z
expect_chat C1 state=closed closed_reason=wrapup-expired closed_at=2026-01-05T09:15:30.000Z \
  wrapup_remaining=null active_seconds=120 parked_seconds=750 wrapup_seconds=60
run events --chat C1
events=$(json events --chat C1) || exit 1
last=$(jget "$events" 'd[-1]["from"] + " -> " + d[-1]["to"] + " by " + d[-1]["cause"] + " at " + d[-1]["at"]') || exit 1
expect_eq "C1 last event" "$last" "active-wrapup -> closed by timer at 2026-01-05T09:15:30.000Z"

say "Closed is final: activating it again is refused and changes nothing."
refused 3 chat activate C1
expect_chat C1 state=closed closed_at=2026-01-05T09:15:30.000Z

done_ok
