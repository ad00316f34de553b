#!/usr/bin/env bash
# Create a wiki account: tests/wiki/users.sh DIR NAME PASSWORD [--sysop]
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 DIR NAME PASSWORD [--sysop]" >&2
	exit 2
fi
. "$(dirname "$0")/common.sh"
extra=()
if [ "${4:-}" = --sysop ]; then
	extra=(--sysop)
elif [ -n "${4:-}" ]; then
	echo "$0: unknown option $4" >&2
	exit 2
fi
mw_maint "$1" createAndPromote.php "${extra[@]}" "$2" "$3"
