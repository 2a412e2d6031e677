#!/usr/bin/env bash
# A phone call parks the agent's active chat (marked parked_by_call).  The customer ends that
# chat during the call: it goes to parked-wrapup with the full wrap-up paused.  When the call
# ends, it resumes into active-wrapup by itself.  A chat the customer did not end stays parked.
# Each `chatemu expect` exits 1, saying what differs, when chatemu does not behave as told.
set -euo pipefail
dir=$(mktemp -d) && trap 'rm -rf "$dir"' EXIT
export CHATEMU_DB="$dir/chatemu.db"   # a fresh database of its own, removed at the end
unset CHATEMU_AGENT                   # act as agent-1

echo "# The story starts at a fixed instant, with a 90 s wrap-up."
chatemu clock set 2026-01-05T09:00:00Z
chatemu config set wrapup 90s

echo "# The agent is handling Ann's chat."
chatemu chat new --customer Ann --inbox
chatemu chat activate C1
chatemu expect chat C1 state=active parked_by_call=false
chatemu expect agent status=handling-chat on_call=false active_chat=C1

echo "# A phone call reaches the agent: Ann's chat is parked, marked as parked by the call."
chatemu clock advance 1m
chatemu chat call-start
chatemu expect chat C1 state=parked parked_by_call=true
chatemu expect agent status=on-call on_call=true active_chat=null

echo "# During the call the agent cannot activate a chat, nor start a second call (both exit 3)."
chatemu run - <<< '!3~"on a call" chat activate C1'
chatemu expect chat C1 state=parked
chatemu run - <<< '!3 chat call-start'
chatemu expect agent on_call=true

echo "# 30 s into the call Ann ends the chat: wrap-up starts with the full 90 s, paused."
chatemu clock advance 30s
chatemu chat end C1
chatemu expect chat C1 state=parked-wrapup wrapup_remaining=90s parked_by_call=true

echo "# The call goes on for 5 more minutes: the paused wrap-up does not run."
chatemu clock advance 5m
chatemu chat list
chatemu expect chat C1 state=parked-wrapup wrapup_remaining=90s closed_reason=null

echo "# The call ends at 09:06:30: Ann's chat resumes into active-wrapup by itself, the mark cleared."
chatemu chat call-end
chatemu expect chat C1 state=active-wrapup wrapup_remaining=90s parked_by_call=false \
  wrapup_ends_at=2026-01-05T09:08:00Z
chatemu expect agent status=wrap-up on_call=false active_chat=C1
chatemu events --chat C1

echo "# Ending a call that is not there is refused (exit 3)."
chatemu run - <<< '!3 chat call-end'

echo "# The resumed wrap-up runs out 90 s later and the chat closes at that instant."
chatemu clock advance 2m
chatemu expect chat C1 state=closed closed_reason=wrapup-expired closed_at=2026-01-05T09:08:00Z

echo "# For contrast: Bob's chat is parked by a second call, but Bob does not end it."
chatemu chat new --customer Bob --inbox
chatemu chat activate C2
chatemu chat call-start
chatemu expect chat C2 state=parked parked_by_call=true
chatemu clock advance 1m
chatemu chat call-end

echo "# After the call Bob's chat stays parked (mark cleared) until the agent activates it."
chatemu expect chat C2 state=parked parked_by_call=false
chatemu expect agent status=available on_call=false active_chat=null
chatemu chat activate C2
chatemu expect chat C2 state=active

echo "# All checks held."
