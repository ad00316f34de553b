<?php
/**
 * Special:Tidings shows the live feed in the wiki's skin, and
 * Special:Tidings/sso vouches for the logged-in wiki user to Tidings.
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\Tidings;

use Config;
use Html;
use MediaWiki\User\UserEditTracker;
use MediaWiki\User\UserGroupManager;
use SpecialPage;

class SpecialTidings extends SpecialPage {
	/** @var Config */
	private $config;
	/** @var UserGroupManager */
	private $userGroupManager;
	/** @var UserEditTracker */
	private $userEditTracker;

	public function __construct(
		Config $config,
		UserGroupManager $userGroupManager,
		UserEditTracker $userEditTracker
	) {
		parent::__construct( 'Tidings' );
		$this->config = $config;
		$this->userGroupManager = $userGroupManager;
		$this->userEditTracker = $userEditTracker;
	}

	/** @inheritDoc */
	public function execute( $subPage ) {
		$this->setHeaders();
		if ( $subPage === 'sso' ) {
			$this->issueAssertion();
		} else {
			$this->showFeed();
		}
	}

	private function tidingsUrl(): string {
		return rtrim( (string)$this->config->get( 'TidingsUrl' ), '/' );
	}

	/**
	 * The feed page. A logged-in user's frame starts the sign-on round trip,
	 * so she lands in Tidings already signed in; an anonymous reader gets the
	 * public feed and a way to log in.
	 */
	private function showFeed(): void {
		$out = $this->getOutput();
		$base = $this->tidingsUrl();
		if ( $base === '' ) {
			$this->showError( 500, 'tidings-not-configured-title', 'tidings-not-configured' );
			return;
		}
		$loggedIn = $this->getUser()->isRegistered();
		$src = $loggedIn ? $base . '/auth/wiki/start?return_to=%2F' : $base . '/';
		if ( $loggedIn ) {
			// The page is personal (it leads to a signed-in session).
			$out->disableClientCache();
		}

		$out->addHTML( Html::element( 'iframe', [
			'id' => 'tidings-feed',
			'class' => 'tidings-frame',
			'src' => $src,
			'title' => $this->msg( 'tidings-feed-title' )->text(),
			'style' => 'width: 100%; height: 80vh; border: 0;',
		] ) );

		if ( !$loggedIn ) {
			$login = $this->getLinkRenderer()->makeKnownLink(
				SpecialPage::getTitleFor( 'Userlogin' ),
				$this->msg( 'tidings-anon-login' )->text(),
				[],
				[ 'returnto' => $this->getPageTitle()->getPrefixedText() ]
			);
			$out->addHTML( Html::rawElement( 'p', [ 'class' => 'tidings-anon' ],
				$this->msg( 'tidings-anon-intro' )->rawParams( $login )->escaped() ) );
		}

		$out->addHTML( Html::rawElement( 'p', [ 'class' => 'tidings-newtab' ],
			Html::element( 'a', [
				'href' => $src,
				'target' => '_blank',
				'rel' => 'noopener',
			], $this->msg( 'tidings-open-new-tab' )->text() ) ) );
	}

	/**
	 * Special:Tidings/sso?nonce=N: redirect the browser back to Tidings with
	 * a signed assertion naming the logged-in user. The destination is fixed
	 * by configuration, never taken from the request, so this cannot be used
	 * to send an assertion anywhere else.
	 */
	private function issueAssertion(): void {
		$out = $this->getOutput();
		// The redirect carries a bearer token: no cache may keep it.
		$out->disableClientCache();

		$nonce = (string)$this->getRequest()->getVal( 'nonce', '' );
		if ( !Assertion::isValidNonce( $nonce ) ) {
			$this->showError( 400, 'tidings-bad-nonce-title', 'tidings-bad-nonce' );
			return;
		}
		$base = $this->tidingsUrl();
		$secret = (string)$this->config->get( 'TidingsSharedSecret' );
		if ( $base === '' || !Assertion::isUsableSecret( $secret ) ) {
			$this->showError( 500, 'tidings-not-configured-title', 'tidings-not-configured' );
			return;
		}

		$user = $this->getUser();
		if ( !$user->isRegistered() ) {
			// Come back here with the same nonce once logged in.
			$out->redirect( SpecialPage::getTitleFor( 'Userlogin' )->getFullURL( [
				'returnto' => $this->getPageTitle( 'sso' )->getPrefixedText(),
				'returntoquery' => wfArrayToCgi( [ 'nonce' => $nonce ] ),
			] ) );
			return;
		}

		$now = (int)wfTimestamp( TS_UNIX );
		$block = $user->getBlock();
		$claims = [
			'iss' => $this->config->get( 'Server' ) . $this->config->get( 'ScriptPath' ),
			'sub' => $user->getId(),
			'name' => $user->getName(),
			'groups' => array_values( array_map( 'strval',
				$this->userGroupManager->getUserEffectiveGroups( $user ) ) ),
			'blocked' => $block !== null && $block->isSitewide(),
			'editcount' => (int)$this->userEditTracker->getUserEditCount( $user ),
			'iat' => $now,
			'exp' => $now + (int)$this->config->get( 'TidingsAssertionLifetime' ),
			'nonce' => $nonce,
		];
		$token = Assertion::sign( $claims, $secret );
		$out->redirect( $base . '/auth/wiki/assertion?assertion=' . rawurlencode( $token ) );
	}

	private function showError( int $status, string $titleKey, string $textKey ): void {
		$out = $this->getOutput();
		$out->setStatusCode( $status );
		$out->setPageTitle( $this->msg( $titleKey ) );
		$out->addHTML( Html::rawElement( 'p', [ 'class' => 'error' ],
			$this->msg( $textKey )->parse() ) );
	}

	/** @inheritDoc */
	protected function getGroupName() {
		return 'wiki';
	}
}
