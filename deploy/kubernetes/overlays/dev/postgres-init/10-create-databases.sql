-- Run once by the postgres image, when its data volume is empty (files in /docker-entrypoint-initdb.d).
-- One database per service: each owns its schema, and nothing joins across them.
-- The orchestrator's database comes last: compose's healthcheck connects to it, so "healthy" means this ran.
CREATE DATABASE orders;
CREATE DATABASE inventory;
CREATE DATABASE payments;
CREATE DATABASE orchestrator;
