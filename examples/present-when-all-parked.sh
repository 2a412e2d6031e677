#!/usr/bin/env bash
# With auto-present on, a queued chat is presented to the agent only when all of the agent's
# chats are parked (or there are none): not while one is new or active, not at max-chats,
# and nothing while the agent is on break.  The highest priority goes first.
set -euo pipefail
command -v chatemu >/dev/null 2>&1 || { echo "error: chatemu is not on PATH" >&2; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
begin "presentation when all chats are parked"

say "The story starts at a fixed instant; auto-present is on and the agent takes at most 2 chats."
run clock set 2026-01-05T09:00:00Z
run config set auto-present on
run config set max-chats 2

say "The agent becomes available with an empty inbox."
run agent available
expect_agent presence=available status=available

say "Ann starts a chat: the idle agent gets it at once, as new."
run chat new --customer Ann
expect_chat C1 state=new agent=agent-1

say "Bob starts a chat: the agent still has Ann's chat unopened (new), so Bob waits in the queue."
run clock advance 1m
run chat new --customer Bob
expect_chat C2 state=queued agent=null

say "The agent activates Ann's chat: one chat is active, so Bob still waits."
run chat activate C1
run clock advance 1m
expect_chat C1 state=active
expect_chat C2 state=queued agent=null

say "The agent parks Ann's chat: now every chat in the inbox is parked, so Bob is presented."
run chat park C1
expect_chat C1 state=parked
expect_chat C2 state=new agent=agent-1
events=$(json events --chat C2) || exit 1
how=$(jget "$events" 'd[-1]["from"] + " -> " + d[-1]["to"] + " by " + d[-1]["cause"] + " at " + d[-1]["at"]') || exit 1
expect_eq "C2 last event" "$how" "queued -> new by presentation at 2026-01-05T09:02:00.000Z"

say "Cid (priority 0) and then Dee (priority 5) start chats while Bob's chat is new: both wait."
run chat new --customer Cid
run clock advance 10s
run chat new --customer Dee --priority 5
expect_chat C3 state=queued
expect_chat C4 state=queued

say "The agent activates Bob's chat and parks it: all parked, but the inbox is full (2 of 2), so nothing comes."
run chat activate C2
run chat park C2
run chat list
expect_inbox C1 C2
expect_chat C3 state=queued
expect_chat C4 state=queued

say "The agent goes on break, then finishes Ann's chat: a slot frees up, but nothing comes on break."
run agent break
run chat end C1
expect_chat C1 state=parked-wrapup
run chat activate C1
run chat wrapup C1 --finish
expect_chat C1 state=closed closed_reason=wrapup-finished
expect_agent presence=break status=break
expect_inbox C2
expect_chat C3 state=queued
expect_chat C4 state=queued

say "The agent is available again with only parked chats and a free slot: Dee (higher priority) is presented, Cid still waits."
run agent available
run chat list
expect_chat C4 state=new agent=agent-1
expect_chat C3 state=queued agent=null
expect_inbox C2 C4
run chat list --all

done_ok
