<?php
/**
 * Special:Tidings shows the live feed in the wiki's skin, and
 * Special:Tidings/sso vouches for the logged-in wiki user to Tidings.
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\Tidings;

use CentralIdLookup;
use Config;
use Html;
use MediaWiki\Block\DatabaseBlock;
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
	/** @var CentralIdLookup */
	private $centralIdLookup;

	public function __construct(
		Config $config,
		UserGroupManager $userGroupManager,
		UserEditTracker $userEditTracker,
		CentralIdLookup $centralIdLookup
	) {
		parent::__construct( 'Tidings' );
		$this->config = $config;
		$this->userGroupManager = $userGroupManager;
		$this->userEditTracker = $userEditTracker;
		$this->centralIdLookup = $centralIdLookup;
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
		// Same test as issueAssertion(): only a named account can be signed
		// on, so a temporary account gets the anonymous view and login link.
		$loggedIn = $this->getUser()->isNamed();
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
		// Only a named (registered, non-temporary) account is vouched for.
		// isRegistered() alone is also true for temporary accounts, which
		// are auto-created for logged-out editors, tied to one browser and
		// meant to expire: they must not get a lasting Tidings identity.
		// Treat them as anonymous and ask them to log in.
		if ( !$user->isNamed() ) {
			// Come back here with the same nonce once logged in.
			$out->redirect( SpecialPage::getTitleFor( 'Userlogin' )->getFullURL( [
				'returnto' => $this->getPageTitle( 'sso' )->getPrefixedText(),
				'returntoquery' => wfArrayToCgi( [ 'nonce' => $nonce ] ),
			] ) );
			return;
		}

		// `sub` is the central user id, not the local one: Tidings also signs
		// people in through the OAuth extension, whose profile `sub` is the
		// central id, and both ways must name a person by the same number.
		// Without CentralAuth the default lookup (LocalIdLookup) returns the
		// local id, so nothing changes on a single wiki. AUDIENCE_RAW: she is
		// asking about herself, so no visibility check (e.g. for a hidden
		// user) applies.
		$centralId = $this->centralIdLookup->centralIdFromLocalUser(
			$user, CentralIdLookup::AUDIENCE_RAW );
		if ( $centralId <= 0 ) {
			// No (attached) central account: there is no id both sign-on
			// ways would agree on, so refuse rather than fall back to the
			// local id, which could name someone else's central account.
			$this->showError( 403, 'tidings-no-central-id-title', 'tidings-no-central-id' );
			return;
		}

		$now = (int)wfTimestamp( TS_UNIX );
		$claims = [
			'iss' => $this->config->get( 'Server' ) . $this->config->get( 'ScriptPath' ),
			'sub' => $centralId,
			'name' => $user->getName(),
			'groups' => array_values( array_map( 'strval',
				$this->userGroupManager->getUserEffectiveGroups( $user ) ) ),
			'blocked' => $this->hasOwnSitewideBlock( $user->getName() ),
			'editcount' => (int)$this->userEditTracker->getUserEditCount( $user ),
			'iat' => $now,
			'exp' => $now + (int)$this->config->get( 'TidingsAssertionLifetime' ),
			'nonce' => $nonce,
		];
		$token = Assertion::sign( $claims, $secret );
		$out->redirect( $base . '/auth/wiki/assertion?assertion=' . rawurlencode( $token ) );
	}

	/**
	 * Whether this account has a sitewide block of its own: the same thing
	 * the action API's list=users&usprop=blockinfo reports (a block row on
	 * the user that has not expired, and blockpartial false), which Tidings
	 * uses to re-check later. The two must agree, or a user would flip
	 * between blocked and not blocked at each re-check.
	 *
	 * Not $user->getBlock() / BlockManager::getUserBlock() with the request:
	 * for the session user those add IP and range blocks, autoblocks, XFF
	 * and cookie blocks, i.e. they describe this request (where she happens
	 * to connect from), not her account. DatabaseBlock::newFromTarget() with
	 * only the user name and no vague (IP) target loads just the block on
	 * the account, skipping expired ones. Unlike
	 * BlockManager::getUserBlock( $user, null, true ) it also does not run
	 * the GetUserBlock hook, through which extensions may add blocks the
	 * action API does not list. (1.39 allows one block per account.)
	 */
	private function hasOwnSitewideBlock( string $userName ): bool {
		$block = DatabaseBlock::newFromTarget( $userName );
		return $block !== null && $block->isSitewide();
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
