#!/usr/bin/env bash
# Block USER sitewide and indefinitely, performed by WikiAdmin, or lift
# the block: tests/wiki/block.sh DIR USER [--unblock]
#
# Autoblocks are off: every test client comes from 127.0.0.1, and an
# autoblock of that address would block all the other test users too.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 DIR USER [--unblock]" >&2
	exit 2
fi
. "$(dirname "$0")/common.sh"
extra=(--disable-autoblock --disable-hardblock)
if [ "${3:-}" = --unblock ]; then
	extra=(--unblock)
elif [ -n "${3:-}" ]; then
	echo "$0: unknown option $3" >&2
	exit 2
fi
printf '%s\n' "$2" | mw_maint "$1" blockUsers.php --performer WikiAdmin \
	--reason "Tidings test" "${extra[@]}"
