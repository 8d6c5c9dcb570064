-- Run once by the postgres image, as the superuser, when its data volume is empty (/docker-entrypoint-initdb.d,
-- through psql with ON_ERROR_STOP). One database per service, owned by a role of the same name that is nothing
-- else: no superuser, no CREATEDB, no CREATEROLE, no replication, no bypassing row security. Only the owner (and
-- the superuser) may connect to a service's database, so a leaked password of one service opens no other.
-- The passwords come from the container's environment (POSTGRES_PASSWORD_<SERVICE>, filled from docker/.env by
-- docker/compose.yaml); an unset or short one stops the script, and with it the container's first start.
-- The orchestrator's database comes last: compose's healthcheck connects to it, so "healthy" means this ran.
-- `npm run new:service` adds a block here for the service it makes; test/docker/postgres-init.int.ts runs this
-- file against a real PostgreSQL.

-- The superuser's own database and `postgres` are not the services' business either.
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  REVOKE ALL ON DATABASE postgres FROM PUBLIC;
END
$$;

-- Creates (or, on a re-run, resets) the login role of one service. PL/pgSQL, so that the password is only ever a
-- bound value (format %L), never spliced into the script's text. INHERIT stays (the default): from PostgreSQL 15
-- on, a database owner's right to create in its public schema comes through the implicit pg_database_owner role.
CREATE FUNCTION pg_temp.service_role(service text, variable text, password text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  attributes CONSTANT text := 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
BEGIN
  IF length(coalesce(password, '')) < 16 THEN
    RAISE EXCEPTION '% is not set or shorter than 16 characters (docker/.env, see docker/.env.example)', variable;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = service) THEN
    EXECUTE format('ALTER ROLE %I %s PASSWORD %L', service, attributes, password);
  ELSE
    EXECUTE format('CREATE ROLE %I %s PASSWORD %L', service, attributes, password);
  END IF;
END
$$;

-- orders
\set password ''
\getenv password POSTGRES_PASSWORD_ORDERS
SELECT pg_temp.service_role('orders', 'POSTGRES_PASSWORD_ORDERS', :'password');
CREATE DATABASE orders OWNER orders;
REVOKE ALL ON DATABASE orders FROM PUBLIC;

-- inventory
\set password ''
\getenv password POSTGRES_PASSWORD_INVENTORY
SELECT pg_temp.service_role('inventory', 'POSTGRES_PASSWORD_INVENTORY', :'password');
CREATE DATABASE inventory OWNER inventory;
REVOKE ALL ON DATABASE inventory FROM PUBLIC;

-- payments
\set password ''
\getenv password POSTGRES_PASSWORD_PAYMENTS
SELECT pg_temp.service_role('payments', 'POSTGRES_PASSWORD_PAYMENTS', :'password');
CREATE DATABASE payments OWNER payments;
REVOKE ALL ON DATABASE payments FROM PUBLIC;

-- orchestrator
\set password ''
\getenv password POSTGRES_PASSWORD_ORCHESTRATOR
SELECT pg_temp.service_role('orchestrator', 'POSTGRES_PASSWORD_ORCHESTRATOR', :'password');
CREATE DATABASE orchestrator OWNER orchestrator;
REVOKE ALL ON DATABASE orchestrator FROM PUBLIC;

\unset password
