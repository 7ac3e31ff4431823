-- How many machines each team has, kept up to date by enrolment, so that
-- fleet reads (the Ivynet status) do not count every machine on every
-- read. The heartbeat sweep compares it with a real count and repairs it
-- for machines written around proofgrid.

-- +goose Up
CREATE TABLE fleet_counts (
    team_id  INTEGER NOT NULL PRIMARY KEY REFERENCES teams (id),
    machines INTEGER NOT NULL
);
INSERT INTO fleet_counts (team_id, machines) SELECT team_id, COUNT(*) FROM machines GROUP BY team_id;

-- +goose Down
DROP TABLE fleet_counts;
