-- The console's own state: who may sign in, and in which SOP role. Passwords are argon2id
-- hashes (argon2-cffi); an account signed in through the office IdP has none.
CREATE TABLE IF NOT EXISTS console_users (
    name          text        PRIMARY KEY,
    role          text        NOT NULL,
    display_name  text        NOT NULL,
    password_hash text,
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
