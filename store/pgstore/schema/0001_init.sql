-- sessionkit pgstore, schema version 1.
--
-- Applied by Store.Migrate inside one transaction, with search_path set to
-- the store's schema. Times are Unix nanoseconds (bigint); subjects, jtis,
-- use-once namespaces and keys are looked up by the SHA-256 of their
-- length-prefixed bytes (32-byte keys: no index-size limit on the names).

-- A session (refresh-token family). spent holds the last 16 spent hashes,
-- 32 bytes each, oldest first. epoch is the subject's token version when
-- the session was created: a session whose epoch is below the subject's
-- current version was revoked by a logout-all (RevokeAll bumps the
-- version and writes nothing else, so that a login racing it cannot
-- escape it).
CREATE TABLE sessionkit_sessions (
    id              text    COLLATE "C" PRIMARY KEY,
    subject_key     bytea   NOT NULL,
    subject         bytea   NOT NULL,
    client_id       bytea   NOT NULL,
    scope           bytea   NOT NULL,
    claims          bytea,
    user_agent      bytea   NOT NULL,
    ip              bytea   NOT NULL,
    created_at      bigint  NOT NULL,
    last_used_at    bigint  NOT NULL,
    idle_expires_at bigint  NOT NULL,
    expires_at      bigint  NOT NULL,
    generation      bigint  NOT NULL,
    current_hash    bytea   NOT NULL,
    spent           bytea   NOT NULL,
    rotated_at      bigint,
    sealed          bytea,
    revoked         boolean NOT NULL,
    epoch           bigint  NOT NULL
);
CREATE INDEX sessionkit_sessions_subject ON sessionkit_sessions (subject_key);
CREATE INDEX sessionkit_sessions_expires ON sessionkit_sessions (expires_at);

-- Token versions, per subject; never removed.
CREATE TABLE sessionkit_versions (
    subject_key bytea  PRIMARY KEY,
    version     bigint NOT NULL
);

-- The access-token deny-list: key = SHA-256 of subject and jti.
CREATE TABLE sessionkit_denied (
    k        bytea  PRIMARY KEY,
    until_ns bigint NOT NULL
);
CREATE INDEX sessionkit_denied_until ON sessionkit_denied (until_ns);

-- Use-once records: key = SHA-256 of namespace and key.
CREATE TABLE sessionkit_once (
    k        bytea   PRIMARY KEY,
    until_ns bigint  NOT NULL,
    fresh    boolean NOT NULL
);
CREATE INDEX sessionkit_once_until ON sessionkit_once (until_ns);

-- Key rings (store.KeyStore): sessionkit's managed signing keys, sealed.
CREATE TABLE sessionkit_keys (
    name    bytea  PRIMARY KEY,
    version bigint NOT NULL,
    blob    bytea  NOT NULL
);
