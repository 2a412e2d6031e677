#!/usr/bin/env bash
# A phone call parks the agent's active chat (marked parked_by_call).  The customer ends that
# chat during the call: it goes to parked-wrapup with the full wrap-up paused.  When the call
# ends, it resumes into active-wrapup by itself.  A chat the customer did not end stays parked.
set -euo pipefail
command -v chatemu >/dev/null 2>&1 || { echo "error: chatemu is not on PATH" >&2; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
begin "a call, with the customer ending the chat during it"

say "The story starts at a fixed instant, with a 90 s wrap-up."
run clock set 2026-01-05T09:00:00Z
run config set wrapup 90s

say "The agent is handling Ann's chat."
run chat new --customer Ann --inbox
run chat activate C1
expect_chat C1 state=active parked_by_call=false
expect_agent status=handling-chat on_call=false active_chat=C1

say "A phone call reaches the agent: Ann's chat is parked, marked as parked by the call."
run clock advance 1m
run chat call-start
expect_chat C1 state=parked parked_by_call=true
expect_agent status=on-call on_call=true active_chat=null

say "During the call the agent cannot activate a chat, nor start a second call."
refused 3 chat activate C1
expect_chat C1 state=parked
refused 3 chat call-start
expect_agent on_call=true

say "30 s into the call Ann ends the chat: wrap-up starts with the full 90 s, paused."
run clock advance 30s
run chat end C1
expect_chat C1 state=parked-wrapup wrapup_remaining=90 parked_by_call=true

say "The call goes on for 5 more minutes: the paused wrap-up does not run."
run clock advance 5m
run chat list
expect_chat C1 state=parked-wrapup wrapup_remaining=90 closed_reason=null

say "The call ends: Ann's chat resumes into active-wrapup by itself, the mark cleared."
run chat call-end
expect_chat C1 state=active-wrapup wrapup_remaining=90 parked_by_call=false \
  wrapup_ends_at=2026-01-05T09:08:00.000Z
expect_agent status=wrap-up on_call=false active_chat=C1
events=$(json events --chat C1) || exit 1
how=$(jget "$events" 'd[-1]["from"] + " -> " + d[-1]["to"] + " by " + d[-1]["cause"] + " at " + d[-1]["at"]') || exit 1
expect_eq "C1 last event" "$how" "parked-wrapup -> active-wrapup by call at 2026-01-05T09:06:30.000Z"

say "Ending a call that is not there is refused."
refused 3 chat call-end

say "The resumed wrap-up runs out 90 s later and the chat closes at that instant."
run clock advance 2m
expect_chat C1 state=closed closed_reason=wrapup-expired closed_at=2026-01-05T09:08:00.000Z

say "For contrast: Bob's chat is parked by a second call, but Bob does not end it."
run chat new --customer Bob --inbox
run chat activate C2
run chat call-start
expect_chat C2 state=parked parked_by_call=true
run clock advance 1m
run chat call-end
say "After the call Bob's chat stays parked (mark cleared) until the agent activates it."
expect_chat C2 state=parked parked_by_call=false
expect_agent status=available on_call=false active_chat=null
run chat activate C2
expect_chat C2 state=active

done_ok
