-- Moderation (issue 15): roles, account standing, reports, domain/e-mail/IP blocks,
-- instance settings changed at run time, and the audit log.

-- `role`: user, moderator, admin, owner. `is_admin` is kept in step (admin or owner).
ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
UPDATE accounts SET role = 'admin' WHERE is_admin <> 0;
-- Standing: times of suspension, silence and sensitive marking (NULL: not), sign-in
-- disabled, approved (0: waiting for a moderator, when sign-ups need approval).
ALTER TABLE accounts ADD COLUMN suspended_at BIGINT;
ALTER TABLE accounts ADD COLUMN silenced_at BIGINT;
ALTER TABLE accounts ADD COLUMN sensitized_at BIGINT;
ALTER TABLE accounts ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN approved BIGINT NOT NULL DEFAULT 1;
-- Where and why she signed up (for moderators; spam waves come from one address).
ALTER TABLE accounts ADD COLUMN sign_up_ip TEXT;
ALTER TABLE accounts ADD COLUMN sign_up_reason TEXT;
CREATE INDEX accounts_by_sign_up_ip ON accounts (sign_up_ip) WHERE sign_up_ip IS NOT NULL;
CREATE INDEX accounts_suspended ON accounts (id) WHERE suspended_at IS NOT NULL;
CREATE INDEX accounts_silenced ON accounts (id) WHERE silenced_at IS NOT NULL;

CREATE TABLE reports (
    id                  BIGSERIAL PRIMARY KEY,
    account_id          BIGINT NOT NULL REFERENCES accounts (id),
    target_account_id   BIGINT NOT NULL REFERENCES accounts (id),
    status_ids          TEXT NOT NULL DEFAULT '',
    rule_ids            TEXT NOT NULL DEFAULT '',
    comment             TEXT NOT NULL DEFAULT '',
    category            TEXT NOT NULL DEFAULT 'other',
    forwarded           BIGINT NOT NULL DEFAULT 0,
    assigned_account_id BIGINT REFERENCES accounts (id),
    action_taken_by_account_id BIGINT REFERENCES accounts (id),
    action_taken_at     BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX reports_by_target ON reports (target_account_id);

CREATE TABLE domain_blocks (
    id              BIGSERIAL PRIMARY KEY,
    domain          TEXT NOT NULL UNIQUE,
    severity        TEXT NOT NULL DEFAULT 'silence',
    reject_media    BIGINT NOT NULL DEFAULT 0,
    reject_reports  BIGINT NOT NULL DEFAULT 0,
    private_comment TEXT,
    public_comment  TEXT,
    obfuscate       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

-- Allowed domains, blocked e-mail domains and blocked sign-up addresses: one row each,
-- `kind` naming which (`domain_allow`, `email_domain_block`, `ip_block`). `value` is the
-- domain, or the address or CIDR range; `severity` is an IP block's.
CREATE TABLE access_rules (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    severity   TEXT NOT NULL DEFAULT '',
    comment    TEXT NOT NULL DEFAULT '',
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (kind, value)
);

-- Instance settings an administrator changes at run time (`registrations_mode`: open,
-- approved, none). Every node reads them from here, so a change holds everywhere at once.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every moderator action: who, what, on what, why, when. Kept.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    target_name TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

-- `admin.report` notifications name their report.
ALTER TABLE notifications ADD COLUMN report_id BIGINT;
