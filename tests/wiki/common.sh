# Shared by the tests/wiki scripts; sourced, not run.
# Debian's MediaWiki; never modified, only read.
MW=/usr/share/mediawiki

# Run a maintenance script against DIR's settings rather than
# /etc/mediawiki/LocalSettings.php: mw_maint DIR SCRIPT ARGS...
mw_maint() {
	local dir=$1 script=$2
	shift 2
	php "$MW/maintenance/$script" --conf "$dir/LocalSettings.php" "$@"
}
