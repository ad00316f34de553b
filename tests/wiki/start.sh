#!/usr/bin/env bash
# Install a throwaway MediaWiki (Debian's 1.39 in /usr/share/mediawiki) into
# DIR with the Tidings extension from this repository, then serve it with
# PHP's built-in web server on 127.0.0.1:PORT.
#
#   tests/wiki/start.sh DIR PORT TIDINGS_URL SECRET
#
# The last step is `exec php -S`, so the caller's child pid IS the server:
# kill that pid to stop the wiki. Readiness: poll
#   http://127.0.0.1:PORT/api.php?action=query&meta=siteinfo&format=json
#
# Admin account: WikiAdmin / Tidings-Wiki-Admin-2024 (a sysop; the
# password is fixed on purpose so tests can log in with it).
#
# Nothing outside DIR is written: /etc and /usr/share/mediawiki stay
# untouched; the server and the maintenance scripts find DIR's settings
# through MW_CONFIG_FILE (see router.php and common.sh).
set -euo pipefail

ADMIN_USER=WikiAdmin
ADMIN_PASSWORD=Tidings-Wiki-Admin-2024

if [ $# -ne 4 ]; then
	echo "usage: $0 DIR PORT TIDINGS_URL SECRET" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
PORT=$2
TIDINGS_URL=${3%/}
SECRET=$4
REPO=$(cd "$HERE/../.." && pwd)

# PHP string literal for an arbitrary shell value (quotes, backslashes...).
php_str() { php -r 'echo var_export($argv[1], true);' -- "$1"; }

# Installing twice into one DIR would fail; a second run just serves again.
if [ ! -e "$DIR/LocalSettings.php" ]; then
	mkdir -p "$DIR/db" "$DIR/images" "$DIR/cache" "$DIR/logs"
	php "$MW/maintenance/install.php" \
		--dbtype=sqlite --dbpath="$DIR/db" --dbname=tidingswiki \
		--confpath="$DIR" \
		--server="http://127.0.0.1:$PORT" --scriptpath="" \
		--lang=en --skins=Vector \
		--pass="$ADMIN_PASSWORD" \
		"Tidings Test Wiki" "$ADMIN_USER" >"$DIR/logs/install.log" 2>&1 \
		|| { cat "$DIR/logs/install.log" >&2; exit 1; }

	cat >>"$DIR/LocalSettings.php" <<PHP

# ---- Added by tests/wiki/start.sh for the Tidings tests ----
wfLoadExtension( 'Tidings', $(php_str "$REPO/clients/mediawiki/Tidings/extension.json") );
\$wgTidingsUrl = $(php_str "$TIDINGS_URL");
\$wgTidingsSharedSecret = $(php_str "$SECRET");

# One edit makes a user autoconfirmed, so tests can reach that group fast.
\$wgAutoConfirmCount = 1;
\$wgAutoConfirmAge = 0;

# Maintenance scripts (block.sh, edit.sh) and the web server are separate
# processes: no in-memory cache (APCu) may hide their changes from each
# other. Sessions still need storage, so they go to the SQLite object cache.
\$wgMainCacheType = CACHE_NONE;
\$wgSessionCacheType = CACHE_DB;
\$wgParserCacheType = CACHE_NONE;

# Tests log in and out many times from 127.0.0.1.
\$wgRateLimits = [];
\$wgPasswordAttemptThrottle = [];
\$wgAccountCreationThrottle = [];

# Everything the wiki writes stays inside DIR (Debian's defaults point
# at /var/cache and /var/log).
\$wgEnableUploads = false;
\$wgUploadDirectory = "$DIR/images";
\$wgUploadPath = "/images";
\$wgCacheDirectory = "$DIR/cache";
\$wgDBerrorLog = "$DIR/logs/dberror.log";
\$wgDebugLogGroups['exception'] = "$DIR/logs/exception.log";
\$wgDebugLogGroups['error'] = "$DIR/logs/error.log";
\$wgDebugLogGroups['fatal'] = "$DIR/logs/fatal.log";

# No mail, no background job runs triggered by page views, readable errors.
\$wgEnableEmail = false;
\$wgJobRunRate = 0;
\$wgShowExceptionDetails = true;
PHP
fi

# router.php reads TIDINGS_WIKI_DIR to find LocalSettings.php and images/.
export TIDINGS_WIKI_DIR="$DIR"
exec php -S "127.0.0.1:$PORT" -t "$MW" "$HERE/router.php"
