#!/usr/bin/env bash
# Save TEXT to page TITLE as USER (raises USER's edit count, so with the
# test settings one edit makes her autoconfirmed):
#   tests/wiki/edit.sh DIR USER TITLE TEXT
set -euo pipefail
if [ $# -ne 4 ]; then
	echo "usage: $0 DIR USER TITLE TEXT" >&2
	exit 2
fi
. "$(dirname "$0")/common.sh"
printf '%s' "$4" | mw_maint "$1" edit.php --user "$2" --summary "Tidings test edit" "$3"
