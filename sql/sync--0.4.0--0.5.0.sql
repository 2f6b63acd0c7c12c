-- sync 0.4.0 -> 0.5.0: hardening against hostile or broken providers.
--
-- What changes for users (each section below says what it adds):
--  - times are kept to the microsecond for every provider and stream;
--    trade ids stay as they were, so rows stored before and after the
--    update never duplicate each other.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.5.0'" to load this file. \quit

-- Network: who may make the server connect where (issue 11, finding 13) ----
--
-- A source made by a role that is not a superuser (a sync_admin member) must
-- not make the server fetch from itself, the cloud metadata endpoint or the
-- private network and show the answer in sync.rejects.  The workers connect
-- such sources to public addresses only, unless a superuser turns on
-- sync.allow_private_addresses; the check is made in C on the address
-- actually connected to (src/http.c, src/netguard.c).  The workers learn
-- who made a source from this column.

-- true when the session that created the source was a superuser's
CREATE FUNCTION sync._session_is_superuser() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user), false)
$$;

-- Sources created before 0.5.0 stay NULL (unknown) and are treated like a
-- non-superuser's: a superuser vouches for one with
--   UPDATE sync.sources SET created_by_superuser = true WHERE name = '...';
-- except file:// sources, which only superusers could ever create.  The
-- default is set after the column is added so it is not applied to them.
ALTER TABLE sync.sources ADD COLUMN created_by_superuser boolean;
UPDATE sync.sources SET created_by_superuser = true WHERE base_url ~* '^file:';
ALTER TABLE sync.sources ALTER COLUMN created_by_superuser SET DEFAULT sync._session_is_superuser();
COMMENT ON COLUMN sync.sources.created_by_superuser IS
    'a superuser created the source: its connections may reach loopback, private and link-local addresses; NULL (made before 0.5.0) counts as false';

-- URLs: no query, fragment or user:password (sync appends its own paths and
-- parameters, and a password in base_url would be readable by sync_reader).
CREATE OR REPLACE FUNCTION sync._check_url(what text, url text, schemes text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scheme text;
BEGIN
    IF url IS NULL THEN
        RETURN;
    END IF;
    scheme := lower(substring(url FROM '^([A-Za-z][A-Za-z0-9+.-]*)://'));
    IF scheme IS NULL THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A URL must start with a scheme such as "https://".',
                  HINT = format('Give an absolute URL, e.g. %s.',
                                CASE WHEN schemes @> '{wss}' THEN 'wss://stream.binance.com:9443'
                                     ELSE 'https://api.binance.com' END);
    END IF;
    IF NOT scheme = ANY (schemes) THEN
        RAISE EXCEPTION 'unsupported scheme "%" in % "%"', scheme, what, url
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Supported schemes here: %s.', array_to_string(schemes, ', '));
    END IF;
    -- the URL itself is not repeated: it holds a password
    IF url ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@' THEN
        RAISE EXCEPTION 'invalid %: a URL may not contain a user name or password', what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The %s has "user@" or "user:password@" before its host.', what),
                  HINT = 'Remove it from the URL; pass credentials => ''{"key_id": "...", "secret": "..."}'' '
                         'to sync_add_source, which keeps them in sync.source_secrets.';
    END IF;
    IF url ~ '[?#]' THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The URL contains "%s": a %s may have no query ("?") or fragment ("#").',
                                  substring(url FROM '[?#]'), what),
                  HINT = 'Give the URL up to its path; sync adds the paths and parameters of each request.';
    END IF;
    IF scheme <> 'file' AND url !~ '^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/[^\s]*)?$' THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The host part is missing or contains characters a host name cannot have.';
    END IF;
    IF scheme = 'file' AND url !~ '^file:///' THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A file URL names an absolute path: file:///path/to/directory.';
    END IF;
END
$$;
