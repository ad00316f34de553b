<?php
/**
 * <tidings tag="election" />, <tidings user="Some Name" /> and
 * {{#tidings:election}} embed a live Tidings timeline in an article.
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\Tidings;

use CentralIdLookup;
use Config;
use Html;
use MediaWiki\Hook\ParserFirstCallInitHook;
use MediaWiki\User\UserIdentityLookup;
use Parser;
use PPFrame;

class ParserHooks implements ParserFirstCallInitHook {
	private const DEFAULT_HEIGHT = 500;
	private const MIN_HEIGHT = 200;
	private const MAX_HEIGHT = 2000;
	/** Same alphabet as Tidings hashtags: any letter, mark or digit, and "_". */
	private const TAG_PATTERN = '/^[\p{L}\p{M}\p{N}_]{1,100}$/u';
	/** Re-check a missing user soon: she may register after the page is saved. */
	private const MISSING_USER_CACHE_SECONDS = 300;

	/** @var Config */
	private $config;
	/** @var UserIdentityLookup */
	private $userIdentityLookup;
	/** @var CentralIdLookup */
	private $centralIdLookup;

	public function __construct(
		Config $config,
		UserIdentityLookup $userIdentityLookup,
		CentralIdLookup $centralIdLookup
	) {
		$this->config = $config;
		$this->userIdentityLookup = $userIdentityLookup;
		$this->centralIdLookup = $centralIdLookup;
	}

	/** @inheritDoc */
	public function onParserFirstCallInit( $parser ) {
		$parser->setHook( 'tidings', [ $this, 'renderTag' ] );
		$parser->setFunctionHook( 'tidings', [ $this, 'renderFunction' ], Parser::SFH_OBJECT_ARGS );
	}

	/**
	 * <tidings tag="..." user="..." height="..." />; the body, if any, is ignored.
	 *
	 * @param string|null $input
	 * @param array $args
	 * @param Parser $parser
	 * @param PPFrame $frame
	 * @return string HTML, which the parser does not parse again
	 */
	public function renderTag( $input, array $args, Parser $parser, PPFrame $frame ) {
		return $this->render( $args, $parser );
	}

	/**
	 * {{#tidings:election}}, {{#tidings:election|height=700}} or {{#tidings:user=Some Name}}.
	 *
	 * @param Parser $parser
	 * @param PPFrame $frame
	 * @param array $params
	 * @return array
	 */
	public function renderFunction( Parser $parser, PPFrame $frame, array $params ) {
		$args = [];
		foreach ( $params as $i => $param ) {
			$text = trim( $frame->expand( $param ) );
			$eq = strpos( $text, '=' );
			if ( $eq !== false ) {
				$args[ strtolower( trim( substr( $text, 0, $eq ) ) ) ] = trim( substr( $text, $eq + 1 ) );
			} elseif ( $i === 0 && $text !== '' ) {
				$args['tag'] = $text;
			}
		}
		return [ $this->render( $args, $parser ), 'isHTML' => true, 'noparse' => true ];
	}

	private function render( array $args, Parser $parser ): string {
		$base = rtrim( (string)$this->config->get( 'TidingsUrl' ), '/' );
		if ( $base === '' ) {
			return $this->error( 'tidings-error-not-configured' );
		}
		if ( isset( $args['user'] ) ) {
			$name = trim( $args['user'] );
			$user = $name === '' ? null : $this->userIdentityLookup->getUserIdentityByName( $name );
			// Tidings links accounts to the central user id (the `sub` of
			// both the sign-on assertion and the OAuth profile), so that is
			// the id the embed must name; without CentralAuth it equals the
			// local id. AUDIENCE_PUBLIC: parser output is cached and shown to
			// every reader, so a hidden (suppressed) user gets 0 here and is
			// treated as missing. 0 also means no attached central account.
			$centralId = ( $user && $user->isRegistered() )
				? $this->centralIdLookup->centralIdFromLocalUser( $user, CentralIdLookup::AUDIENCE_PUBLIC )
				: 0;
			if ( $centralId <= 0 ) {
				$parser->getOutput()->updateCacheExpiry( self::MISSING_USER_CACHE_SECONDS );
				return $this->error( 'tidings-error-no-user', $name );
			}
			$src = $base . '/embed/wiki_users/' . $centralId;
			$title = wfMessage( 'tidings-user-title', $user->getName() )->inContentLanguage()->text();
		} elseif ( isset( $args['tag'] ) ) {
			// Allow the natural "#election" spelling.
			$tag = preg_replace( '/^#/', '', trim( $args['tag'] ) );
			if ( !preg_match( self::TAG_PATTERN, $tag ) ) {
				return $this->error( 'tidings-error-bad-tag', $args['tag'] );
			}
			$src = $base . '/embed/tags/' . rawurlencode( $tag );
			$title = wfMessage( 'tidings-tag-title', $tag )->inContentLanguage()->text();
		} else {
			return $this->error( 'tidings-error-no-target' );
		}

		return Html::element( 'iframe', [
			'class' => 'tidings-embed',
			'src' => $src,
			'title' => $title,
			'width' => '100%',
			'height' => $this->height( $args['height'] ?? null ),
			'loading' => 'lazy',
			'style' => 'border: 0;',
		] );
	}

	/** A height attribute outside 200-2000 is pulled back into range. */
	private function height( ?string $value ): int {
		if ( $value === null || !preg_match( '/^\s*\d+\s*(px)?\s*$/', $value ) ) {
			return self::DEFAULT_HEIGHT;
		}
		return max( self::MIN_HEIGHT, min( self::MAX_HEIGHT, (int)$value ) );
	}

	private function error( string $key, string ...$params ): string {
		return Html::element( 'span', [ 'class' => 'error' ],
			wfMessage( $key, ...$params )->inContentLanguage()->text() );
	}
}
