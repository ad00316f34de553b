-- One account per e-mail address: sign-in by e-mail must name one account. Where earlier
-- versions let two accounts share an address, the older account keeps it.
UPDATE accounts SET email = NULL
    WHERE email IS NOT NULL
      AND id NOT IN (SELECT MIN(id) FROM accounts WHERE email IS NOT NULL GROUP BY email);
CREATE UNIQUE INDEX accounts_email_unique ON accounts (email) WHERE email IS NOT NULL;
