<?php
/**
 * Special page names for the Tidings extension.
 *
 * @license GPL-2.0-or-later
 */

$specialPageAliases = [];

/** English */
$specialPageAliases['en'] = [
	'Tidings' => [ 'Tidings' ],
];
