#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/hostile/race.sh [SECONDS]: the long form of
# selftests/test_hostile_race.sh (the harness's race mode, see race.c),
# which make check runs for 20 s. In the test VM:
#   scripts/vm-run -- selftests/hostile/race.sh 600
VQOS_RACE_SECONDS=${1:-60} exec "$(dirname "$0")/../test_hostile_race.sh"
