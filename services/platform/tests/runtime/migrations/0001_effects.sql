CREATE TABLE effects (event_id UUID NOT NULL, attempt BIGINT NOT NULL);
