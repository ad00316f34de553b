<?php
/**
 * Signs the short-lived statement "this browser belongs to wiki user X"
 * that Tidings accepts at /auth/wiki/assertion.
 *
 * Token = b64url(payload) "." b64url(HMAC-SHA256(b64url(payload), secret)).
 * Tidings recomputes the MAC over the encoded payload exactly as sent, so
 * the JSON below never has to be re-serialised identically on its side.
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\Tidings;

class Assertion {
	/** Shorter keys are too easy to brute-force offline from one token. */
	public const MIN_SECRET_BYTES = 32;

	/**
	 * The nonce Tidings puts in its session; same rule is enforced there.
	 * Anchored with \z, not $: in PCRE "$" also matches before a final
	 * newline, so "<nonce>\n" (nonce=...%0A) would pass and be echoed into
	 * the signed assertion as a value Tidings never issued.
	 */
	public const NONCE_PATTERN = '/^[A-Za-z0-9_-]{16,128}\z/';

	/**
	 * base64url without padding (RFC 4648 section 5), safe in a query string.
	 */
	public static function b64url( string $bytes ): string {
		return rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' );
	}

	public static function isValidNonce( string $nonce ): bool {
		return preg_match( self::NONCE_PATTERN, $nonce ) === 1;
	}

	public static function isUsableSecret( string $secret ): bool {
		return strlen( $secret ) >= self::MIN_SECRET_BYTES;
	}

	/**
	 * @param array $claims The payload fields (iss, sub, name, ...)
	 * @param string $secret Shared HMAC key
	 * @return string The signed token
	 */
	public static function sign( array $claims, string $secret ): string {
		$json = json_encode(
			$claims,
			JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR
		);
		$body = self::b64url( $json );
		return $body . '.' . self::b64url( hash_hmac( 'sha256', $body, $secret, true ) );
	}
}
