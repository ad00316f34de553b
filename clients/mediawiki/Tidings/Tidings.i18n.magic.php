<?php
/**
 * Magic word for the {{#tidings:...}} parser function.
 * A parser function needs a magic word so the parser can recognise its name.
 *
 * @license GPL-2.0-or-later
 */

$magicWords = [];

/** English; 0 = case-insensitive */
$magicWords['en'] = [
	'tidings' => [ 0, 'tidings' ],
];
