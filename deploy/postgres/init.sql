-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d).
-- One role and one database per service (DESIGN §6): each role owns its database and, with
-- CONNECT revoked from PUBLIC, cannot open another service's.
-- DEVELOPMENT ONLY: the passwords follow the public pattern <name>_dev_password. Anything
-- beyond a laptop must create roles with real secrets instead of using this file.

CREATE ROLE identity LOGIN PASSWORD 'identity_dev_password';
CREATE DATABASE identity OWNER identity;
REVOKE CONNECT ON DATABASE identity FROM PUBLIC;

CREATE ROLE feedback LOGIN PASSWORD 'feedback_dev_password';
CREATE DATABASE feedback OWNER feedback;
REVOKE CONNECT ON DATABASE feedback FROM PUBLIC;

CREATE ROLE ticketing LOGIN PASSWORD 'ticketing_dev_password';
CREATE DATABASE ticketing OWNER ticketing;
REVOKE CONNECT ON DATABASE ticketing FROM PUBLIC;

CREATE ROLE inbox_sync LOGIN PASSWORD 'inbox_sync_dev_password';
CREATE DATABASE inbox_sync OWNER inbox_sync;
REVOKE CONNECT ON DATABASE inbox_sync FROM PUBLIC;

CREATE ROLE webhooks_dispatcher LOGIN PASSWORD 'webhooks_dispatcher_dev_password';
CREATE DATABASE webhooks_dispatcher OWNER webhooks_dispatcher;
REVOKE CONNECT ON DATABASE webhooks_dispatcher FROM PUBLIC;

CREATE ROLE billing_metrics LOGIN PASSWORD 'billing_metrics_dev_password';
CREATE DATABASE billing_metrics OWNER billing_metrics;
REVOKE CONNECT ON DATABASE billing_metrics FROM PUBLIC;
