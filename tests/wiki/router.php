<?php
/**
 * Router for PHP's built-in server (see start.sh):
 *   TIDINGS_WIKI_DIR=DIR php -S 127.0.0.1:PORT -t /usr/share/mediawiki router.php
 *
 * Runs MediaWiki's entry points against DIR/LocalSettings.php, serves
 * DIR/images, lets the built-in server send other static files as they
 * are, and refuses every other PHP file (installer, maintenance...).
 */

$dir = getenv( 'TIDINGS_WIKI_DIR' );
if ( !$dir || !is_file( "$dir/LocalSettings.php" ) ) {
	http_response_code( 500 );
	echo "router.php: TIDINGS_WIKI_DIR must name an installed wiki directory\n";
	return true;
}
// Takes precedence over $IP/LocalSettings.php (Debian's /etc one).
define( 'MW_CONFIG_FILE', "$dir/LocalSettings.php" );

$mw = $_SERVER['DOCUMENT_ROOT'];
$path = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) ?? '/';

if ( $path === '/' ) {
	$path = '/index.php';
}

if ( preg_match( '#^/(index|api|load|rest|opensearch_desc)\.php(/.*)?$#', $path, $m ) ) {
	$script = "/{$m[1]}.php";
	$_SERVER['SCRIPT_NAME'] = $script;
	$_SERVER['PHP_SELF'] = $script;
	$_SERVER['SCRIPT_FILENAME'] = $mw . $script;
	if ( isset( $m[2] ) && $m[2] !== '' ) {
		// As Apache would pass it: decoded, after the script name.
		$_SERVER['PATH_INFO'] = rawurldecode( $m[2] );
	} else {
		unset( $_SERVER['PATH_INFO'] );
	}
	chdir( $mw );
	require $mw . $script;
	return true;
}

if ( strncmp( $path, '/images/', 8 ) === 0 ) {
	$file = realpath( $dir . rawurldecode( $path ) );
	if ( $file === false || strncmp( $file, realpath( "$dir/images" ) . '/', strlen( realpath( "$dir/images" ) ) + 1 ) !== 0
		|| !is_file( $file )
	) {
		http_response_code( 404 );
		return true;
	}
	header( 'Content-Type: ' . ( mime_content_type( $file ) ?: 'application/octet-stream' ) );
	readfile( $file );
	return true;
}

if ( preg_match( '/\.php\d?$/i', $path ) ) {
	http_response_code( 404 );
	echo "Not found\n";
	return true;
}

// Static assets (skins, resources, extensions' images): served as-is.
return false;
