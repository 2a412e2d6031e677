#!/usr/bin/env bash
# With auto-present on, a queued chat is presented to the agent only when all of the agent's
# chats are parked (or there are none): not while one is new or active, not at max-chats,
# and nothing while the agent is on break.  The highest priority goes first.
# Each `chatemu expect` exits 1, saying what differs, when chatemu does not behave as told.
set -euo pipefail
dir=$(mktemp -d) && trap 'rm -rf "$dir"' EXIT
export CHATEMU_DB="$dir/chatemu.db"   # a fresh database of its own, removed at the end
unset CHATEMU_AGENT                   # act as agent-1

echo "# The story starts at a fixed instant; auto-present is on and the agent takes at most 2 chats."
chatemu clock set 2026-01-05T09:00:00Z
chatemu config set auto-present on
chatemu config set max-chats 2

echo "# The agent becomes available with an empty inbox."
chatemu agent available
chatemu expect agent presence=available status=available
chatemu expect inbox

echo "# Ann starts a chat: the idle agent gets it at once, as new."
chatemu chat new --customer Ann
chatemu expect chat C1 state=new agent=agent-1

echo "# Bob starts a chat: the agent still has Ann's chat unopened (new), so Bob waits in the queue."
chatemu clock advance 1m
chatemu chat new --customer Bob
chatemu expect chat C2 state=queued agent=null
chatemu expect queue default C2

echo "# The agent activates Ann's chat: one chat is active, so Bob still waits."
chatemu chat activate C1
chatemu clock advance 1m
chatemu expect inbox C1:active
chatemu expect queue default C2

echo "# The agent parks Ann's chat: now every chat in the inbox is parked, so Bob is presented at once."
chatemu chat park C1
chatemu expect inbox C1:parked C2:new
chatemu expect queue default
chatemu events --chat C2

echo "# Cid (priority 0) and then Dee (priority 5) start chats while Bob's chat is new: both wait, Dee first."
chatemu chat new --customer Cid
chatemu clock advance 10s
chatemu chat new --customer Dee --priority 5
chatemu expect queue default C4 C3

echo "# The agent activates Bob's chat and parks it: all parked, but the inbox is full (2 of 2), so nothing comes."
chatemu chat activate C2
chatemu chat park C2
chatemu chat list
chatemu expect inbox C1:parked C2:parked
chatemu expect queue default C4 C3

echo "# The agent goes on break, then finishes Ann's chat: a slot frees up, but nothing comes on break."
chatemu agent break
chatemu chat end C1
chatemu expect chat C1 state=parked-wrapup
chatemu chat activate C1
chatemu chat wrapup C1 --finish
chatemu expect chat C1 state=closed closed_reason=wrapup-finished
chatemu expect agent presence=break status=break
chatemu expect inbox C2:parked
chatemu expect queue default C4 C3

echo "# The agent is available again with only parked chats and a free slot: Dee (higher priority) is presented, Cid still waits."
chatemu agent available
chatemu chat list
chatemu expect inbox C2:parked C4:new
chatemu expect chat C4 agent=agent-1
chatemu expect queue default C3
chatemu chat list --all

echo "# All checks held."
